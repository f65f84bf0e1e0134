// "Find more like this": asks /api/v1/images/{id}/similar/ for the nearest unlabeled pool images of
// one campaign image and lists them (with a checkbox, so they can seed the new-campaign form too).
import { api } from "../labeling/api.js";

const config = JSON.parse(document.getElementById("similar-config")?.textContent || "{}");
const panel = document.getElementById("similar-panel");
const list = document.getElementById("similar-list");
const error = document.getElementById("similar-error");
const of = document.getElementById("similar-of");

function tile(neighbour) {
  const item = document.createElement("li");
  item.dataset.image = neighbour.image;
  const img = document.createElement("img");
  img.src = neighbour.thumb;
  img.alt = `image ${neighbour.image}`;
  img.loading = "lazy";
  const caption = document.createElement("span");
  caption.className = "similarity";
  caption.textContent = `${neighbour.similarity.toFixed(3)} · ${neighbour.dataset}`;
  item.append(img, caption);
  return item;
}

async function findSimilar(imageId) {
  panel.hidden = false;
  error.hidden = true;
  list.replaceChildren();
  of.textContent = `image ${imageId}`;
  const index = document.querySelector('#seed-form select[name="index"]')?.value;
  const query = new URLSearchParams({ k: String(config.k || 12), campaign: String(config.campaign) });
  if (index) query.set("index", index);
  try {
    const data = await api("GET", `/api/v1/images/${imageId}/similar/?${query}`);
    if (!data.neighbours.length) {
      error.textContent = "No unlabeled pool image found.";
      error.hidden = false;
    }
    list.replaceChildren(...data.neighbours.map(tile));
  } catch (exc) {
    error.textContent = exc.message;
    error.hidden = false;
  }
  panel.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

for (const button of document.querySelectorAll("button.find-similar")) {
  button.addEventListener("click", () => findSimilar(button.dataset.image));
}
