from django.apps import AppConfig


class J3DConfig(AppConfig):
    name = "j3d"
    verbose_name = "J3D"
