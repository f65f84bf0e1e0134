// The import form's folder picker: browses /api/v1/files/ (the server's IMPORT_ROOTS only) and
// writes the chosen folder or file into the Source field.
import { api } from "./datasets.js";

const source = document.querySelector('#import-form [name="source"]');
const panel = document.getElementById("file-picker");
const list = document.getElementById("picker-entries");
const shown = document.getElementById("picker-path");
const errorBox = document.getElementById("picker-error");
const up = document.getElementById("picker-up");
let current = { path: "", parent: null };

function choose(path) {
  source.value = path;
  source.dispatchEvent(new Event("change", { bubbles: true }));
  panel.hidden = true;
  source.focus();
}

async function open(path) {
  errorBox.hidden = true;
  let listing;
  try {
    listing = await api(`/api/v1/files/${path ? `?path=${encodeURIComponent(path)}` : ""}`);
  } catch (error) {
    errorBox.textContent = `Cannot open ${path || "the import roots"}: ${error.message}`;
    errorBox.hidden = false;
    return;
  }
  current = listing;
  shown.textContent = listing.path || "(import roots)";
  up.disabled = listing.parent === null && !listing.path;
  const items = listing.entries.map((entry) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.dataset.path = entry.path;
    button.dataset.kind = entry.kind;
    button.textContent = entry.kind === "dir" ? `${entry.name}/` : entry.name;
    button.addEventListener("click", () => (entry.kind === "dir" ? open(entry.path) : choose(entry.path)));
    li.appendChild(button);
    if (entry.kind === "file" && entry.size !== null) li.append(` ${entry.size.toLocaleString()} bytes`);
    return li;
  });
  if (listing.truncated) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "More entries than shown: type the rest of the path.";
    items.push(li);
  }
  list.replaceChildren(...items);
}

if (source && panel) {
  document.getElementById("browse-source").addEventListener("click", () => {
    panel.hidden = false;
    const typed = source.value.trim();
    open(typed.startsWith("/") ? typed.replace(/\/[^/]*[*?[{].*$/, "") : "");
  });
  up.addEventListener("click", () => open(current.parent ?? ""));
  document.getElementById("picker-use").addEventListener("click", () => {
    if (current.path) choose(current.path);
  });
  document.getElementById("picker-close").addEventListener("click", () => { panel.hidden = true; });
}
