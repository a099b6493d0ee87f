/* What the worker hears, feels and sees at the edge of the eye for each result: a tone, a
 * vibration and a coloured flash. */

const TONES = {
  ok: [[880, 0.09, "sine"]],
  duplicate: [[660, 0.08, "triangle"], [660, 0.08, "triangle"]],
  error: [[196, 0.35, "square"]],
  complete: [[523, 0.1, "sine"], [659, 0.1, "sine"], [784, 0.1, "sine"], [1047, 0.22, "sine"]],
  info: [[740, 0.06, "sine"]]
};
const VIBRATION = { ok: 40, duplicate: [60, 60, 60], error: [250, 80, 250], complete: [80, 40, 80, 40, 160], info: 30 };

let audio = null;

/* Browsers start audio only after a user gesture: the first key press calls this. */
export function audioContext() {
  if (!audio) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return null; }
    audio = new Ctx();
  }
  if (audio.state === "suspended") { audio.resume(); }
  return audio;
}

export function createFeedback(root, overlay) {
  return function play(kind) {
    const ctx = audioContext();
    if (ctx) {
      let at = ctx.currentTime;
      TONES[kind].forEach(([frequency, length, type]) => {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = type;
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.25, at);
        gain.gain.exponentialRampToValueAtTime(0.001, at + length);
        osc.connect(gain).connect(ctx.destination);
        osc.start(at);
        osc.stop(at + length);
        at += length + 0.04;
      });
    }
    if (navigator.vibrate) { navigator.vibrate(VIBRATION[kind]); }
    root.dataset.lastTone = kind;  // which sound and colour the last result had
    overlay.className = "flash-overlay flash-" + kind;
    window.setTimeout(() => { overlay.className = "flash-overlay"; }, 380);
  };
}
