// labvae's latent pad: drag over z, every decoder runs here in the page (no kernel call while dragging).
// Used by the anywidget LatentPad and by the standalone page (python -m labvae explorer), same code.

const PAD_PX = 360; // the pad's side in CSS pixels
const SHOW_PX = 196; // a decoded 28x28 image, shown 7x
const STEP = 0.05; // one arrow-key press; with Shift, ten
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"]; // matplotlib's tab10, as the notebooks' scatters

function bytes(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out.buffer;
}

function half(h) { // IEEE 754 binary16 -> number
  const e = (h >> 10) & 31, f = h & 1023, s = h & 32768 ? -1 : 1;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

// One decoder: linear layers as (in, out) Float32Arrays, activations, preallocated buffers.
function compile(layers) {
  return layers.map(l => {
    if (l.op !== "linear") return { op: l.op, slope: l.slope || 0 };
    const w = new Float32Array(l.in * l.out);
    if (l.dtype === "int8") {
      const q = new Int8Array(bytes(l.w)), scale = new Float32Array(bytes(l.scale));
      for (let j = 0; j < l.in; j++) for (let i = 0; i < l.out; i++) w[j * l.out + i] = q[j * l.out + i] * scale[i];
    } else {
      const q = new Uint16Array(bytes(l.w));
      for (let k = 0; k < q.length; k++) w[k] = half(q[k]);
    }
    return { op: "linear", n_in: l.in, n_out: l.out, w, b: new Float32Array(bytes(l.b)), y: new Float64Array(l.out) };
  });
}

function run(net, z) { // z: [z1, z2] -> Float64Array(784) in [0, 1] (what decode(z) gives)
  let x = Float64Array.from(z);
  for (const l of net) {
    if (l.op === "linear") {
      const y = l.y, n = l.n_out, w = l.w;
      for (let i = 0; i < n; i++) y[i] = l.b[i];
      for (let j = 0; j < l.n_in; j++) {
        const v = x[j];
        if (v === 0) continue; // after a ReLU most inputs are 0: skip their column
        const off = j * n;
        for (let i = 0; i < n; i++) y[i] += v * w[off + i];
      }
      x = y;
    } else if (l.op === "relu") for (let i = 0; i < x.length; i++) x[i] = x[i] > 0 ? x[i] : 0;
    else if (l.op === "sigmoid") for (let i = 0; i < x.length; i++) x[i] = 1 / (1 + Math.exp(-x[i]));
    else if (l.op === "tanh") for (let i = 0; i < x.length; i++) x[i] = Math.tanh(x[i]);
    else for (let i = 0; i < x.length; i++) x[i] = x[i] >= 0 ? x[i] : x[i] * l.slope;
  }
  return x;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(v) { return (Math.abs(v) < 0.005 ? 0 : v).toFixed(2); }

function render({ model, el: root }) {
  const limit = model.get("limit");
  const specs = model.get("models"); // [{name, layers | null, bits, weights, max_error_255}]
  const codes = model.get("codes"); // {name: {z, y, n, extent}}
  const classes = model.get("classes");
  const kernelOnly = specs.filter(s => !s.layers).map(s => s.name);
  let z = model.get("z").slice();
  let view = limit; // half-width of what the pad shows: the window, or zoomed out to the codes

  const box = el("div", "labvae-pad");
  const left = el("div", "labvae-pad-left");
  const pad = el("canvas", "labvae-pad-area");
  pad.width = pad.height = PAD_PX;
  pad.tabIndex = 0;
  pad.setAttribute("role", "slider");
  pad.setAttribute("aria-label", "latent code z: drag, click, or use the arrow keys");
  pad.style.cssText = `width:${PAD_PX}px;height:${PAD_PX}px;cursor:crosshair;touch-action:none;border:1px solid #888;outline-offset:2px`;
  const label = el("div", "labvae-pad-z");
  label.style.cssText = "font-family:monospace;font-size:14px;margin:4px 0";
  const controls = el("div", "labvae-pad-controls");
  const zoom = el("button", "labvae-pad-zoom", "zoom out to the codes");
  controls.append(zoom);
  const named = Object.keys(codes);
  let shown = named[0];
  if (named.length > 1) {
    const pick = el("select", "labvae-pad-codes");
    for (const n of named) pick.append(Object.assign(el("option", "", "codes of " + n), { value: n }));
    pick.onchange = () => { shown = pick.value; if (view !== limit) view = extent(); layer(); draw(); };
    controls.append(" ", pick);
  }
  const legend = el("div", "labvae-pad-legend");
  legend.style.cssText = "font-size:11px;max-width:" + PAD_PX + "px;line-height:1.5";
  classes.forEach((c, i) => {
    const s = el("span", "", "\u25cf " + c);
    s.style.cssText = `color:${COLOURS[i % 10]};white-space:nowrap;margin-right:10px`;
    legend.append(s);
  });
  left.append(pad, label, controls, legend);
  const right = el("div", "labvae-pad-images");
  right.style.cssText = "display:flex;flex-wrap:wrap;gap:12px;align-content:flex-start";
  const shows = specs.map(s => {
    const fig = el("figure", "labvae-pad-figure");
    fig.style.margin = "0";
    const c = el("canvas", "labvae-pad-image");
    c.width = c.height = 28;
    c.dataset.name = s.name;
    c.style.cssText = `width:${SHOW_PX}px;height:${SHOW_PX}px;image-rendering:pixelated;border:1px solid #ccc`;
    fig.append(el("figcaption", "labvae-pad-title", s.name), c);
    right.append(fig);
    return { spec: s, canvas: c, ctx: c.getContext("2d"), img: new ImageData(28, 28),
      net: s.layers ? compile(s.layers) : null };
  });
  box.style.cssText = "display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start";
  box.append(left, right);
  if (kernelOnly.length) {
    const note = el("div", "labvae-pad-note", `decoded in the kernel (not exportable to the page): ${kernelOnly.join(", ")}; these update when the kernel answers.`);
    note.style.cssText = "flex-basis:100%;font-size:12px;color:#a33";
    box.append(note);
  }
  root.append(box);

  const ctx = pad.getContext("2d");
  const dots = document.createElement("canvas"); // the codes, drawn once per view, copied per move
  dots.width = dots.height = PAD_PX;

  function extent() {
    const e = codes[shown] ? codes[shown].extent : limit;
    return Math.max(limit, Math.ceil(e * 1.05));
  }
  const toPx = v => (v + view) / (2 * view) * PAD_PX; // z1 -> x; z2 -> y is PAD_PX - toPx(z2)
  const toZ = p => p / PAD_PX * 2 * view - view;

  function layer() { // grid, window, axes and the test codes of the chosen model
    const d = dots.getContext("2d");
    d.fillStyle = "#fff";
    d.fillRect(0, 0, PAD_PX, PAD_PX);
    d.strokeStyle = "#eee";
    for (let t = Math.ceil(-view); t <= view; t++) {
      d.beginPath(); d.moveTo(toPx(t), 0); d.lineTo(toPx(t), PAD_PX); d.moveTo(0, toPx(t)); d.lineTo(PAD_PX, toPx(t)); d.stroke();
    }
    d.strokeStyle = "#bbb";
    d.beginPath(); d.moveTo(toPx(0), 0); d.lineTo(toPx(0), PAD_PX); d.moveTo(0, toPx(0)); d.lineTo(PAD_PX, toPx(0)); d.stroke();
    if (view !== limit) { d.strokeStyle = "#555"; d.setLineDash([4, 3]); d.strokeRect(toPx(-limit), toPx(-limit), toPx(limit) - toPx(-limit), toPx(limit) - toPx(-limit)); d.setLineDash([]); }
    const c = codes[shown];
    if (c) {
      const zs = new Float32Array(bytes(c.z)), ys = new Uint8Array(bytes(c.y));
      d.globalAlpha = 0.55;
      for (let i = 0; i < c.n; i++) {
        d.fillStyle = COLOURS[ys[i] % 10];
        d.fillRect(toPx(zs[2 * i]) - 1.5, PAD_PX - toPx(zs[2 * i + 1]) - 1.5, 3, 3);
      }
      d.globalAlpha = 1;
    }
    d.fillStyle = "#333";
    d.font = "11px sans-serif";
    d.fillText(`(${-view}, ${view})`, 3, 12);
    d.fillText(`(${view}, ${-view})`, PAD_PX - 48, PAD_PX - 4);
  }

  function draw() { // pad + marker, label, every decoder's image: what one pointer move costs
    ctx.drawImage(dots, 0, 0);
    const x = toPx(z[0]), y = PAD_PX - toPx(z[1]);
    ctx.strokeStyle = "#000"; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(x, y, 7, 0, 2 * Math.PI); ctx.stroke();
    ctx.strokeStyle = "#f22"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x - 11, y); ctx.lineTo(x + 11, y); ctx.moveTo(x, y - 11); ctx.lineTo(x, y + 11); ctx.stroke();
    label.textContent = `(z1, z2) = (${fmt(z[0])}, ${fmt(z[1])})`;
    const kernel = model.get("kernel_images") || {};
    for (const s of shows) {
      let px;
      if (s.net) px = run(s.net, z);
      else if (kernel[s.spec.name]) px = new Uint8Array(bytes(kernel[s.spec.name]));
      else continue;
      const d = s.img.data, scale = s.net ? 255 : 1;
      for (let i = 0; i < 784; i++) {
        const v = s.net ? Math.floor(Math.min(1, Math.max(0, px[i])) * scale + 0.5) : px[i];
        d[4 * i] = d[4 * i + 1] = d[4 * i + 2] = v;
        d[4 * i + 3] = 255;
      }
      s.ctx.putImageData(s.img, 0, 0);
    }
  }

  const times = []; // ms of decode + draw per move, read by the benchmark and the tests
  box.__labvaePad = { times, get z() { return z.slice(); }, get view() { return view; } };
  function move(z1, z2, sync) {
    const t0 = performance.now();
    z = [Math.max(-view, Math.min(view, z1)), Math.max(-view, Math.min(view, z2))];
    draw();
    times.push(performance.now() - t0);
    if (times.length > 5000) times.splice(0, 1000);
    // The kernel hears z when the hand stops (or on every move if a decoder lives there).
    if (sync || kernelOnly.length) { model.set("z", z.slice()); model.save_changes(); }
  }
  function fromEvent(e) {
    const r = pad.getBoundingClientRect();
    return [toZ((e.clientX - r.left) / r.width * PAD_PX), -toZ((e.clientY - r.top) / r.height * PAD_PX)];
  }
  let dragging = false;
  pad.addEventListener("pointerdown", e => {
    dragging = true;
    pad.setPointerCapture(e.pointerId);
    pad.focus();
    move(...fromEvent(e), false);
  });
  pad.addEventListener("pointermove", e => { if (dragging) move(...fromEvent(e), false); });
  const stop = e => { if (dragging) { dragging = false; move(...fromEvent(e), true); } };
  pad.addEventListener("pointerup", stop);
  pad.addEventListener("pointercancel", stop);
  pad.addEventListener("keydown", e => {
    const d = e.shiftKey ? 10 * STEP : STEP;
    const step = { ArrowLeft: [-d, 0], ArrowRight: [d, 0], ArrowUp: [0, d], ArrowDown: [0, -d] }[e.key];
    if (!step) return;
    e.preventDefault();
    move(Math.round((z[0] + step[0]) / STEP) * STEP, Math.round((z[1] + step[1]) / STEP) * STEP, true);
  });
  zoom.onclick = () => {
    view = view === limit ? extent() : limit;
    zoom.textContent = view === limit ? "zoom out to the codes" : `back to the window \u00b1${limit}`;
    layer();
    move(z[0], z[1], true);
  };
  model.on("change:z", () => {
    const k = model.get("z");
    if (k[0] !== z[0] || k[1] !== z[1]) { z = k.slice(); draw(); }
  });
  model.on("change:kernel_images", draw);
  layer();
  draw();
}

export default { render };
