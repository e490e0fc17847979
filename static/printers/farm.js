// Farm page: refresh each printer card from the API (session auth), problems first.
const farm = document.getElementById("farm");
const PROBLEMS = ["failed", "offline", "pause"];

function card(printer) {
  const status = printer.status || {};
  const snap = status.snapshot || {};
  const el = document.createElement("article");
  el.className = `printer state-${status.state || "unknown"}`;
  el.dataset.id = printer.id;
  const h2 = document.createElement("h2");
  h2.textContent = `${printer.name} `;
  const small = document.createElement("small");
  small.textContent = printer.model;
  h2.append(small);
  const state = document.createElement("p");
  state.className = "state";
  state.textContent = status.state || "unknown";
  const job = document.createElement("p");
  job.className = "job";
  job.textContent = snap.job_name || "";
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = snap.progress_pct || 0;
  const ams = document.createElement("ul");
  ams.className = "ams";
  for (const m of printer.materials || []) {
    const li = document.createElement("li");
    li.title = `slot ${m.slot}: ${m.material_type} ${m.color}`;
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = m.color_hex || "#ccc";
    li.append(sw, m.is_empty ? "empty" : (m.material_type || "?"));
    ams.append(li);
  }
  el.append(h2, state, job, bar, ams);
  if (status.link_error) {
    const err = document.createElement("p");
    err.className = "error";
    err.textContent = status.link_error;
    el.append(err);
  }
  return el;
}

async function refresh() {
  try {
    const response = await fetch(farm.dataset.api, { credentials: "same-origin" });
    if (!response.ok) return;
    const printers = await response.json();
    printers.sort((a, b) =>
      PROBLEMS.includes((b.status || {}).state) - PROBLEMS.includes((a.status || {}).state));
    farm.replaceChildren(...printers.map(card));
  } catch (error) {
    console.warn("farm refresh failed", error);
  }
}

setInterval(refresh, 3000);
