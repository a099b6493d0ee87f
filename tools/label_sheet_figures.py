"""The figures of docs/LABELS.md: size and render time of label PDFs by layout and count, and
each layout's QR module and symbol size. Run: .venv/bin/python -m tools.label_sheet_figures"""

from __future__ import annotations

import statistics
import time

from app.labels.sheets import LAYOUTS, code_labels, label_geometry, render_sheet
from app.pdfqr import QUIET_ZONE, qr_modules


def main() -> None:
    print("layout    labels   bytes  bytes/label  render ms (median of 3)")
    for name, count in (("a4-3x8", 24), ("a4-4x10", 40), ("single", 1), ("a4-3x8", 1000)):
        labels = code_labels([f"SB{n:05d}" for n in range(1, count + 1)])
        times, size = [], 0
        for _ in range(3):
            start = time.perf_counter()
            size = len(render_sheet(labels, LAYOUTS[name]))
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name:8} {count:7} {size:7} {size / count:12.0f} {statistics.median(times):10.0f}")
    modules = len(qr_modules("SB00001"))
    print(f"\nQR of SB00001: {modules - 2 * QUIET_ZONE} modules + {QUIET_ZONE} quiet on each side")
    for layout in LAYOUTS.values():
        module = label_geometry(*layout.label)[3] / modules
        print(f"{layout.name:8} module {module:.2f} mm, symbol {module * (modules - 2 * QUIET_ZONE):.1f} mm")


if __name__ == "__main__":
    main()
