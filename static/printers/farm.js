// Farm page: every few seconds, swap in the tiles as the server renders them (the partial the
// first paint used, printers/_farm_tiles.html), so a tile has one renderer.
const farm = document.getElementById("farm");

async function refresh() {
  try {
    const response = await fetch(farm.dataset.tiles, { credentials: "same-origin" });
    if (response.redirected) {
      window.location.reload(); // logged out meanwhile: the page itself goes to the login
    } else if (response.ok) {
      farm.innerHTML = await response.text();
    }
  } catch (error) {
    console.warn("farm refresh failed", error);
  }
}

setInterval(refresh, 3000);
