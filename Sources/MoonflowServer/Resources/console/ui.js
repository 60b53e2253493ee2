// What every page uses to talk to the user: the message line and confirmations.

export function say(text, kind = "error") {
  const box = document.getElementById("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

/** Asks to confirm `text`; resolves to true when confirmed. */
export function confirmAction(text) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  return new Promise(resolve => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), {once: true});
    dialog.returnValue = "";
    dialog.showModal();
  });
}

