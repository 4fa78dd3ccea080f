// @ts-check
// Live line graphs on <canvas> for the stats panel: a fixed number of recent
// samples, rescaled to the largest value shown.

export class Graph {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{color: string, points?: number, unit?: string, minMax?: number}} opts
   */
  constructor(canvas, opts) {
    this.canvas = canvas;
    this.color = opts.color;
    this.points = opts.points ?? 120;
    this.minMax = opts.minMax ?? 1;
    /** @type {number[]} */
    this.values = [];
  }

  /** @param {number} v */
  push(v) {
    this.values.push(Number.isFinite(v) ? v : 0);
    if (this.values.length > this.points) this.values.shift();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    const g = c.getContext('2d');
    if (!g) return;
    g.clearRect(0, 0, w, h);
    g.strokeStyle = 'rgba(255,255,255,0.08)';
    g.lineWidth = 1;
    for (let i = 1; i < 4; i++) {
      const y = Math.round((h * i) / 4) + 0.5;
      g.beginPath();
      g.moveTo(0, y);
      g.lineTo(w, y);
      g.stroke();
    }
    if (this.values.length < 2) return;
    const max = Math.max(this.minMax, ...this.values) * 1.1;
    const step = w / (this.points - 1);
    const x0 = w - step * (this.values.length - 1);
    g.beginPath();
    this.values.forEach((v, i) => {
      const x = x0 + i * step;
      const y = h - (v / max) * (h - 2 * dpr) - dpr;
      if (i === 0) g.moveTo(x, y);
      else g.lineTo(x, y);
    });
    g.strokeStyle = this.color;
    g.lineWidth = 1.5 * dpr;
    g.stroke();
    g.lineTo(w, h);
    g.lineTo(x0, h);
    g.closePath();
    g.globalAlpha = 0.15;
    g.fillStyle = this.color;
    g.fill();
    g.globalAlpha = 1;
  }
}

/**
 * Formats bits per second for a label.
 * @param {number} bps
 * @returns {string}
 */
export function formatBitrate(bps) {
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mb/s`;
  return `${Math.round(bps / 1e3)} kb/s`;
}
