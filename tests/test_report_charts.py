"""Report charts (issue 23): value labels clear of the error bars, the balance legend clear
of every bar, accuracy intervals inside [0, 1]. Checked on the drawn figures' geometry."""

from __future__ import annotations

import math

import pytest

from datacur.labels import CLASSES
from datacur.report import (
    _class_balance_figure,
    _clip01,
    _clip_interval,
    _per_class_figure,
    plot_ratio,
)


def _drawn(figure):  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)  # as savefig renders the PNG
    canvas.draw()
    return canvas.get_renderer()


def test_per_class_value_labels_sit_above_the_error_bars() -> None:
    means = {label: 0.5 + 0.05 * i for i, label in enumerate(CLASSES)}
    means["x"] = 0.97
    sds = dict.fromkeys(CLASSES, 0.08)
    sds["iv"] = math.nan  # one seed: no bar
    del means["ix"]  # never scored: "n/a"
    figure = _per_class_figure(means, sds, title="t")
    renderer = _drawn(figure)
    axis = figure.axes[0]
    from matplotlib.container import ErrorbarContainer

    bars = next(c for c in axis.containers if isinstance(c, ErrorbarContainer))
    caps = bars.lines[1]  # the cap markers, bottom and top
    cap_tops = [line.get_window_extent(renderer).y1 for line in caps]
    top = max(cap_tops)
    texts = [t for t in axis.texts]
    assert [t.get_text() for t in texts][CLASSES.index("ix")] == "n/a"
    segments = bars.lines[2][0].get_segments()
    for index, text in enumerate(texts):
        box = text.get_window_extent(renderer)
        tops = [seg[:, 1].max() for seg in segments if math.isclose(seg[0, 0], index)]
        if tops:
            whisker_top = axis.transData.transform((index, tops[0]))[1]
            assert box.y0 > whisker_top, f"label of {CLASSES[index]} strikes its error bar"
    assert top <= axis.get_window_extent(renderer).y1
    # x: 0.97 + 0.08 would reach 1.05; the whisker stops at 1.0
    x_segment = next(seg for seg in segments if math.isclose(seg[0, 0], CLASSES.index("x")))
    assert x_segment[:, 1].max() == pytest.approx(1.0)


def test_balance_legend_hides_no_bar() -> None:
    counts = {
        "train": {label: 100 + 10 * i for i, label in enumerate(CLASSES)},
        "val": {label: 20 + i for i, label in enumerate(CLASSES)},
    }
    counts["train"]["x"] = 400  # the tallest bar is the last one, where the legend used to be
    figure = _class_balance_figure(counts, title="t")
    renderer = _drawn(figure)
    axis = figure.axes[0]
    legend = axis.get_legend().get_window_extent(renderer)
    for container in axis.containers:
        for patch in getattr(container, "patches", []):
            assert not legend.overlaps(patch.get_window_extent(renderer))
    for text in axis.texts:
        assert not legend.overlaps(text.get_window_extent(renderer))
    assert legend.x1 <= figure.bbox.x1  # still on the page


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (0.68, 0.24, 1.13, (0.44, 0.32)),
        (0.05, -0.2, 0.3, (0.05, 0.25)),
        (0.5, 0.4, 0.6, (0.1, 0.1)),
    ],
    ids=["above-1", "below-0", "inside"],
)
def test_intervals_are_clipped_to_0_1(value, low, high, expected) -> None:  # type: ignore[no-untyped-def]
    assert _clip_interval(value, low, high) == pytest.approx(expected)


def test_table_bounds_are_clipped() -> None:
    assert _clip01(1.13) == 1.0 and _clip01(-0.2) == 0.0 and _clip01(0.3) == 0.3
    assert _clip01(None) is None and math.isnan(_clip01(math.nan))


def test_ratio_plot_accepts_an_interval_past_1() -> None:
    png = plot_ratio([0, 1], [0.68, 0.9], [0.24, 0.85], [1.13, 0.95], axis_label="a", title="t")
    assert png.startswith(b"\x89PNG")
