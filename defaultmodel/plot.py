"""Loss curves as a PNG, drawn with Pillow (matplotlib is not a project dependency)."""

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

PANEL_W, PANEL_H = 560, 320
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 64, 16, 30, 40
COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14))

Series = Sequence[tuple[float, float]]


def _ticks(low: float, high: float) -> list[float]:
    """Powers of ten and their 2x and 5x multiples inside [low, high] (log axis)."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def _panel(title: str, series: Mapping[str, Series], font) -> Image.Image:
    image = Image.new("RGB", (PANEL_W, PANEL_H), "white")
    draw = ImageDraw.Draw(image)
    points = [(x, y) for values in series.values() for x, y in values if y > 0]
    x_max = max((x for x, _ in points), default=1.0) or 1.0
    y_low = min((y for _, y in points), default=0.1)
    y_high = max((y for _, y in points), default=1.0)
    if y_high <= y_low:
        y_high = y_low * 10.0
    left, right = MARGIN_L, PANEL_W - MARGIN_R
    top, bottom = MARGIN_T, PANEL_H - MARGIN_B
    span = math.log10(y_high) - math.log10(y_low)

    def to_px(x: float, y: float) -> tuple[float, float]:
        fy = (math.log10(y) - math.log10(y_low)) / span
        return left + (right - left) * x / x_max, bottom - (bottom - top) * fy

    draw.rectangle((left, top, right, bottom), outline="black")
    for tick in _ticks(y_low, y_high):
        _, py = to_px(0.0, tick)
        draw.line((left - 4, py, left, py), fill="black")
        draw.text((left - 6, py), f"{tick:g}", fill="black", font=font, anchor="rm")
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        px = left + (right - left) * fraction
        draw.line((px, bottom, px, bottom + 4), fill="black")
        draw.text((px, bottom + 6), f"{x_max * fraction:g}", fill="black", font=font, anchor="mt")
    draw.text((PANEL_W / 2, 6), title, fill="black", font=font, anchor="mt")
    draw.text((PANEL_W / 2, PANEL_H - 4), "step", fill="black", font=font, anchor="mb")
    for k, (name, values) in enumerate(series.items()):
        colour = COLOURS[k % len(COLOURS)]
        line = [to_px(x, y) for x, y in values if y > 0]
        if len(line) > 1:
            draw.line(line, fill=colour, width=2)
        draw.text((right - 8, top + 8 + 16 * k), name, fill=colour, font=font, anchor="rt")
    return image


def loss_chart(panels: Mapping[str, Mapping[str, Series]], path: Path) -> Path:
    """One log-scale panel per entry of `panels` (title -> {series name: [(step, loss)]}),
    stacked vertically, saved as a PNG at `path`."""
    font = ImageFont.load_default(size=13)
    images = [_panel(title, series, font) for title, series in panels.items()]
    sheet = Image.new("RGB", (PANEL_W, PANEL_H * len(images)), "white")
    for k, panel in enumerate(images):
        sheet.paste(panel, (0, PANEL_H * k))
    sheet.save(path, format="PNG")
    return Path(path)
