// The hosts page shows a moving pool: reload it every 10 s, unless the user is typing a priority.
const REFRESH_MS = 10000;

function busy() {
  const el = document.activeElement;
  return el && el.tagName === "INPUT";
}

function tick() {
  if (document.visibilityState === "visible" && !busy()) {
    window.location.reload();
    return;
  }
  setTimeout(tick, REFRESH_MS);
}

setTimeout(tick, REFRESH_MS);
