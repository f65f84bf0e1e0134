// Adjudication by keyboard: a label key picks the final label, Enter records it (the page then
// shows the next most contested item). Quick reasons fill the optional reason field.
const form = document.getElementById("decide");

if (form) {
  const radios = [...form.querySelectorAll("input[name=label]")];
  const reason = form.querySelector("#reason");

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target.closest?.("input[type=text], textarea");
    if (event.key === "Enter" && !event.target.closest?.("button, a")) {
      event.preventDefault();
      if (radios.some((r) => r.checked)) form.requestSubmit();
      else radios[0]?.focus();
      return;
    }
    if (typing) return;
    const radio = radios.find((r) => r.dataset.key && (event.key === r.dataset.key || event.code === `Digit${r.dataset.key}`));
    if (radio) {
      event.preventDefault();
      radio.checked = true;
      radio.focus();
    }
  });

  for (const button of form.querySelectorAll("[data-reason]")) {
    button.addEventListener("click", () => {
      reason.value = button.dataset.reason;
      const chosen = radios.find((r) => r.checked);
      (chosen ?? radios[0])?.focus();
    });
  }
}
