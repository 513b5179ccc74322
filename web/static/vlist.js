// vlist.js: a virtualised list of fixed-height rows. Only the rows in (or
// near) the viewport exist in the DOM, so 100k statements scroll like 100.

export class VList {
  /**
   * @param {HTMLElement} el scroll container (gets class vlist)
   * @param {number} rowHeight in px
   * @param {(i: number, row: HTMLElement) => void} render fills row for item i
   */
  constructor(el, rowHeight, render) {
    this.el = el;
    this.rh = rowHeight;
    this.render = render;
    this.count = 0;
    this.pool = [];
    this.spacer = document.createElement('div');
    this.spacer.className = 'vlist-spacer';
    el.classList.add('vlist');
    el.append(this.spacer);
    this.pending = false;
    this.onScroll = null;
    el.addEventListener('scroll', () => {
      this.schedule();
      if (this.onScroll) this.onScroll();
    }, { passive: true });
    new ResizeObserver(() => this.schedule()).observe(el);
  }

  /** Sets the item count and re-renders on the next frame. */
  setCount(n) {
    this.count = n;
    this.spacer.style.height = `${n * this.rh}px`;
    this.schedule();
  }

  /** Re-renders visible rows (their items may have changed). */
  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.draw(); });
  }

  atBottom() {
    return this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - this.rh;
  }

  scrollToEnd() {
    this.el.scrollTop = this.el.scrollHeight;
    this.schedule();
  }

  draw() {
    const top = this.el.scrollTop;
    const h = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rh) - 10);
    const last = Math.min(this.count, Math.ceil((top + h) / this.rh) + 10);
    const need = Math.max(0, last - first);
    while (this.pool.length < need) {
      const row = document.createElement('div');
      row.className = 'vrow';
      this.el.append(row);
      this.pool.push(row);
    }
    for (let k = 0; k < this.pool.length; k++) {
      const row = this.pool[k];
      if (k >= need) {
        row.hidden = true;
        continue;
      }
      const i = first + k;
      row.hidden = false;
      row.style.transform = `translateY(${i * this.rh}px)`;
      row.dataset.index = i;
      this.render(i, row);
    }
  }
}
