"""Notebook 04's live controls: the lecture's knobs on stored results, and style transfer on your own photo.

* :class:`KnobExplorer` — the lecture's knobs (§8.1-8.3 of the notebook): α/β on a log slider,
  which layers carry the style (named choices), which layer carries the content (a dropdown,
  limited to what the installed VGG19 weights allow, with one line saying so), and the start
  (the lecture's white noise or the assignment's content + noise). Moving a control shows at once
  a small result stored by :class:`utils.nst.cache.ResultCache`; :meth:`KnobExplorer.build`
  computes the grid of :func:`utils.nst.cache.explorer_grid` once, with a progress bar, and
  **Run this setting** computes a position that is not stored (in the background, with Stop).
* :class:`StylisePhoto` — upload a content and/or a style image (the checks of
  :func:`utils.widgets.decode_upload`: not an image, a decompression bomb, EXIF rotation, CMYK,
  greyscale, 16-bit, alpha; a photo larger than :data:`WORKING_SIDE` is downscaled), then
  **Stylise** runs the engine in a background thread with a progress bar and a live preview;
  **Stop** ends it and keeps the best image so far. Content, style and result are shown side by
  side, with a link to download the result.

Both take their sizes and steps from the caller (the notebook picks them with
:func:`utils.config.pick`). Where no front end draws widgets (nbval, the grader),
:func:`utils.widgets.show_control` prints :meth:`KnobExplorer.summary` /
:meth:`StylisePhoto.summary` instead.

Example:
    >>> explorer = KnobExplorer("tubingen.jpg", "starry_night.jpg", size=128, steps=60)  # doctest: +SKIP
    >>> explorer.build()                       # the grid, once (progress bar)           # doctest: +SKIP
    >>> explorer.ratio.value = 2500            # shows the stored result at once         # doctest: +SKIP
    >>> show_control(explorer, explorer.summary())                                       # doctest: +SKIP
"""

from __future__ import annotations

import html
import io
import math
import time
from pathlib import Path

import ipywidgets
import numpy as np
from PIL import Image

from utils import image_io
from utils.errors import CourseError
from utils.nst.cache import (
    DEFAULT_RATIO,
    DEFAULT_START,
    DEFAULT_STYLE,
    OPTIMIZER,
    RATIOS,
    STARTS,
    CachedResult,
    KnobSetting,
    ResultCache,
    explorer_grid,
    image_hash,
    knob_choices,
    ratio_label,
)
from utils.nst.engine import NSTResult, StyleTransfer
from utils.widgets import BackgroundRun, ImageInput, MessageLine, download_link, png_bytes

__all__ = ["WORKING_SIDE", "KnobExplorer", "StylisePhoto"]

#: An uploaded photo whose longer side exceeds this is downscaled to it (a 40-megapixel phone photo
#: would cost seconds to hash and hold 120 MB; style transfer here runs at 512 px at most).
WORKING_SIDE = 1024


def _photo_bytes(image: np.ndarray, side: int = 256) -> bytes:
    """A photograph's view as JPEG at ``side`` pixels: a tenth of a PNG's bytes in the saved widget state."""
    buffer = io.BytesIO()
    Image.fromarray(image_io.resize_max_side(image, side)).save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def _name(source, fallback: str) -> str:
    return Path(source).name if isinstance(source, (str, Path)) else fallback


def _snap_ratio(value: float) -> float:
    """The offered α/β nearest to ``value`` on a log scale (the slider's front end computes 10**x)."""
    return min(RATIOS, key=lambda ratio: abs(math.log10(ratio) - math.log10(max(value, 1e-12))))


def _show_image(view: ipywidgets.Image, data: bytes) -> None:
    """Put ``data`` in ``view``; an empty view is hidden (a browser would draw a broken-image icon)."""
    view.value = data
    view.layout.display = None if data else "none"


def _captioned(view: ipywidgets.Widget, caption: ipywidgets.HTML) -> ipywidgets.VBox:
    return ipywidgets.VBox([caption, view], layout=ipywidgets.Layout(margin="0 8px 0 0"))


def _losses_line(record: dict) -> str:
    final, initial = record.get("final_losses", {}), record.get("initial_losses", {})
    return (
        f"J_content {final.get('content', float('nan')):.3g}, J_style {final.get('style', float('nan')):.3g} "
        f"(J {initial.get('total', float('nan')):.3g} → {final.get('total', float('nan')):.3g})"
    )


class KnobExplorer(ipywidgets.VBox):
    """The lecture's knobs on small stored results: α/β, style layers, content layer, start.

    Args:
        content, style: the images (paths or RGB arrays).
        size: longer side of the results in pixels (about 128).
        steps: L-BFGS evaluations per result.
        cache: where results are stored (default: a :class:`~utils.nst.cache.ResultCache` under
            ``<outputs>/nst/explorer``).
        small_grid: compute the small grid (fast mode) instead of the full one.
        weights: which VGG19 file decides the layers offered (see :func:`utils.nst.cache.knob_choices`).

    Attributes:
        ratio, style, content_layer, start: the controls.
        result_view, message: what the current position shows.
        runner: the :class:`~utils.widgets.BackgroundRun` of **Run this setting** and of a grid
            built in the background.
        shown: the :class:`~utils.nst.cache.CachedResult` on display (None when not stored).
    """

    def __init__(
        self,
        content,
        style,
        size: int = 128,
        steps: int = 60,
        cache: ResultCache | None = None,
        small_grid: bool = False,
        weights: str = "auto",
    ):
        self.size, self.steps = int(size), int(steps)
        self.cache = cache or ResultCache()
        self.choices = knob_choices(weights)
        self.grid = explorer_grid(self.choices, small=small_grid)
        self.ratio = ipywidgets.FloatLogSlider(
            value=DEFAULT_RATIO,
            base=10,
            min=math.log10(RATIOS[0]),
            max=math.log10(RATIOS[-1]),
            step=1.0,
            description="α/β",
            readout_format=".2s",
            continuous_update=True,
        )
        self.style = ipywidgets.Dropdown(
            options=list(self.choices.styles),
            value=DEFAULT_STYLE,
            description="style layers",
            style={"description_width": "initial"},
        )
        self.content_layer = ipywidgets.Dropdown(
            options=list(self.choices.content_layers),
            value=KnobSetting().content_layer,
            description="content layer",
            style={"description_width": "initial"},
        )
        self.start = ipywidgets.ToggleButtons(
            options=list(STARTS), value=DEFAULT_START, description="start", style={"button_width": "130px"}
        )
        self.note = ipywidgets.HTML(f'<span style="color:#555;font-size:0.9em">{html.escape(self.choices.note)}</span>')
        self.content_caption, self.style_caption = ipywidgets.HTML(), ipywidgets.HTML()
        self.result_caption = ipywidgets.HTML("result")
        view = ipywidgets.Layout(width="256px")
        self.content_view = ipywidgets.Image(format="jpeg", layout=view)
        self.style_view = ipywidgets.Image(format="jpeg", layout=view)
        self.result_view = ipywidgets.Image(format="png", value=b"", layout=ipywidgets.Layout(width="256px"))
        self.message = MessageLine()
        self.runner = BackgroundRun("Run this setting")
        self.runner.run_button.layout = ipywidgets.Layout(width="auto", min_width="150px")
        self.runner.on_click(self._run_setting_work, self._after_run)
        self.build_button = ipywidgets.Button(
            description="Compute the grid for these images", icon="th", layout=ipywidgets.Layout(width="max-content")
        )
        self.build_button.on_click(lambda _: self.build(background=True))
        self.shown: CachedResult | None = None
        for widget, name in (
            (self.ratio, "ratio"),
            (self.style, "style"),
            (self.content_layer, "content-layer"),
            (self.start, "start"),
            (self.result_view, "result"),
            (self.message, "message"),
            (self.runner, "run"),
        ):
            widget.add_class(f"nst-explorer-{name}")  # names for the browser tests and for CSS
        self.set_images(content, style, _name(content, "content"), _name(style, "style"), show=False)
        for control in (self.ratio, self.style, self.content_layer, self.start):
            control.observe(lambda _change: self.show(), names="value")
        super().__init__(
            [
                ipywidgets.HBox([self.ratio, self.start]),
                ipywidgets.HBox([self.style, self.content_layer]),
                self.note,
                ipywidgets.HBox(
                    [
                        _captioned(self.content_view, self.content_caption),
                        _captioned(self.style_view, self.style_caption),
                        _captioned(self.result_view, self.result_caption),
                    ]
                ),
                self.message,
                self.runner,
                self.build_button,
            ]
        )
        self.show()

    # ---- images and settings -------------------------------------------------------------

    def set_images(
        self, content, style, content_name: str = "content", style_name: str = "style", show: bool = True
    ) -> None:
        """Explore another content/style pair (paths or RGB arrays); its results have their own entries."""
        self.content_image, self.style_image = image_io.load_image(content), image_io.load_image(style)
        self.content_name, self.style_name = content_name, style_name
        self._hashes = (image_hash(self.content_image), image_hash(self.style_image))
        self.content_view.value = _photo_bytes(self.content_image)
        self.style_view.value = _photo_bytes(self.style_image)
        self.content_caption.value, self.style_caption.value = f"content: {content_name}", f"style: {style_name}"
        if show:
            self.show()

    @property
    def setting(self) -> KnobSetting:
        """The controls' position."""
        return KnobSetting(
            ratio=_snap_ratio(self.ratio.value),
            style=self.style.value,
            content_layer=self.content_layer.value,
            start=self.start.value,
        )

    def _key(self, setting: KnobSetting) -> str:
        return self.cache.key(setting.settings(self.size), *self._hashes, self.steps)

    def result_for(self, setting: KnobSetting) -> CachedResult | None:
        """The stored result of ``setting`` on the current images (None when not computed)."""
        return self.cache.load(self._key(setting))

    def stored(self) -> int:
        """How many settings of the grid are stored for the current images."""
        return sum(self.cache.load(self._key(setting)) is not None for setting in self.grid)

    def _typical_seconds(self) -> float | None:
        seconds = [
            found.record.get("seconds", 0.0)
            for setting in self.grid
            if (found := self.cache.load(self._key(setting))) is not None
        ]
        return float(np.median(seconds)) if seconds else None

    # ---- showing -------------------------------------------------------------------------

    def show(self) -> CachedResult | None:
        """Show the stored result of the controls' position, or say that it is not computed yet."""
        setting = self.setting
        found = self.cache.load(self._key(setting))
        self.shown = found
        if found is None:
            _show_image(self.result_view, b"")
            seconds = self._typical_seconds()
            estimate = f" (about {seconds:.0f} s)" if seconds else ""
            self.result_caption.value = "result: not computed yet"
            self.message.info(f"{setting.label()}: not computed yet; press Run this setting{estimate}.")
            return None
        _show_image(self.result_view, png_bytes(found.image))
        self.result_caption.value = f"result, α/β {ratio_label(setting.ratio)}"
        self.message.success(f"{setting.label()}: {_losses_line(found.record)}.")
        return found

    def summary(self) -> str:
        """What the control shows now, as text (for :func:`utils.widgets.show_control`)."""
        found, setting = self.shown, self.setting
        height, width = found.image.shape[:2] if found is not None else (None, None)
        lines = [
            f"Knob explorer on {self.content_name} + {self.style_name}: {self.stored()} of {len(self.grid)} "
            f"settings computed ({width}x{height} px, {self.steps} L-BFGS evaluations each).",
            f"Showing {setting.label()}: "
            + (_losses_line(found.record) if found is not None else "not computed yet")
            + ".",
            f"Controls: α/β {', '.join(ratio_label(ratio) for ratio in RATIOS)}; style layers: "
            f"{', '.join(self.choices.styles)}; content layer: {', '.join(self.choices.content_layers)}; "
            f"start: {', '.join(STARTS)}.",
            self.choices.note,
        ]
        return "\n".join(lines)

    # ---- computing -----------------------------------------------------------------------

    def _build_work(self, run: BackgroundRun) -> dict:
        return self.cache.build(
            self.grid,
            self.content_image,
            self.style_image,
            self.size,
            self.steps,
            progress=lambda done, total, text: run.progress(done, total, f"{done}/{total}: {text}"),
            should_stop=lambda: run.stopped,
            show_bar=False,
        )

    def _after_build(self, outcome: dict) -> None:
        self.show()
        verb = "stopped" if outcome["stopped"] else "done"
        self.runner.message.success(
            f"Grid {verb}: {outcome['stored']} of {outcome['total']} settings computed "
            f"({outcome['computed']} now, in {outcome['seconds']:.0f} s)."
        )

    def build(self, background: bool = False) -> dict | None:
        """Compute every grid setting not stored yet for the current images.

        Args:
            background: run in a thread (the button does); otherwise in the caller, with a tqdm
                bar too (a notebook cell, which nbval waits for).

        Returns:
            The build's summary (see :meth:`utils.nst.cache.ResultCache.build`); None in the background.
        """
        if background:
            try:
                self.runner.start(self._build_work, self._after_build)
            except CourseError as error:
                self.runner.message.error(error)
            return None
        outcome = self.cache.build(
            self.grid,
            self.content_image,
            self.style_image,
            self.size,
            self.steps,
            progress=lambda done, total, text: self.runner.progress(done, total),
        )
        self._after_build(outcome)
        return outcome

    def _run_setting_work(self, run: BackgroundRun) -> CachedResult | None:
        setting = self.setting
        run.progress(0, self.steps, f"computing {setting.label()} ...")

        def callback(entry: dict, preview) -> bool:
            run.progress(entry["step"], self.steps)
            return run.stopped

        return self.cache.get_or_run(
            setting, self.content_image, self.style_image, self.size, self.steps, callback=callback
        )

    def _after_run(self, outcome: CachedResult | None) -> None:
        shown = self.show()
        if outcome is None:
            self.runner.message.info("Stopped; nothing was stored for this setting.")
        elif shown is not None:
            what = (
                "was already computed"
                if outcome.from_cache
                else f"computed in {outcome.record.get('seconds', 0):.1f} s and stored"
            )
            self.runner.message.success(f"This setting {what}.")

    def run_setting(self, background: bool = True) -> CachedResult | None:
        """Compute the controls' position now (what **Run this setting** does) and show it."""
        if background:
            self.runner.start(self._run_setting_work, self._after_run)
            return None
        return self.runner.run_now(self._run_setting_work, self._after_run)


class StylisePhoto(ipywidgets.VBox):
    """Style transfer on the learner's own content and/or style image, with Stop and a download link.

    Args:
        content, style: the default images (paths or arrays), replaced by uploads.
        size: the default longer side of the result (the size dropdown offers 128-512 px).
        steps: the default number of L-BFGS evaluations.
        explorer: a :class:`KnobExplorer` whose controls give the setting (default: the preset).
        preview_every: update the result view every this many steps while running.

    Attributes:
        content_input, style_input: the two :class:`~utils.widgets.ImageInput`.
        runner: the :class:`~utils.widgets.BackgroundRun` (Stylise, Stop, progress, message).
        result: the last :class:`~utils.nst.engine.NSTResult` (None before the first run).
    """

    SIZES = (128, 256, 384, 512)

    def __init__(
        self,
        content,
        style,
        size: int = 256,
        steps: int = 200,
        explorer: KnobExplorer | None = None,
        preview_every: int = 10,
    ):
        self.explorer = explorer
        self.preview_every = max(1, int(preview_every))
        self.content_input = ImageInput("Content image", preview_size=48)  # its preview is hidden: the row
        self.style_input = ImageInput("Style image", preview_size=48)  # below shows the images
        self.images: dict = {}
        self.names: dict = {}
        for which, widget in (("content", self.content_input), ("style", self.style_input)):
            widget.preview.layout.display = "none"  # the row of content, style and result shows the images
            widget.on_image(lambda image, name, which=which, widget=widget: self._take(which, widget, image, name))
        sizes = sorted(set(self.SIZES) | {int(size)})
        self.size = ipywidgets.Dropdown(options=sizes, value=int(size), description="size (px)")
        self.steps = ipywidgets.IntSlider(
            value=int(steps),
            min=min(10, int(steps)),
            max=max(500, int(steps)),
            step=10 if steps >= 10 else 1,
            description="L-BFGS steps",
            style={"description_width": "initial"},
        )
        self.runner = BackgroundRun("Stylise")
        self.runner.on_click(self._work, self._show_result)
        self.views = {
            which: ipywidgets.Image(
                format="png" if which == "result" else "jpeg", value=b"", layout=ipywidgets.Layout(width="256px")
            )
            for which in ("content", "style", "result")
        }
        _show_image(self.views["result"], b"")
        self.captions = {which: ipywidgets.HTML(which) for which in ("content", "style", "result")}
        self.download = ipywidgets.HTML("")
        self.result: NSTResult | None = None
        self.explore_button = ipywidgets.Button(
            description="Use these images in the knob explorer",
            icon="sliders",
            layout=ipywidgets.Layout(width="max-content"),
            disabled=explorer is None,
        )
        self.explore_button.on_click(lambda _: self.send_to_explorer())
        for widget, name in (
            (self.content_input, "content"),
            (self.style_input, "style"),
            (self.size, "size"),
            (self.steps, "steps"),
            (self.runner, "run"),
            (self.views["result"], "result"),
            (self.download, "download"),
        ):
            widget.add_class(f"nst-photo-{name}")  # names for the browser tests and for CSS
        self.content_input.load(content)
        self.style_input.load(style)
        super().__init__(
            [
                ipywidgets.HBox([self.content_input, self.style_input]),
                ipywidgets.HBox([self.size, self.steps]),
                self.runner,
                self.explore_button,
                ipywidgets.HBox(
                    [_captioned(self.views[which], self.captions[which]) for which in ("content", "style", "result")]
                ),
                self.download,
            ]
        )

    def _take(self, which: str, widget: ImageInput, image: np.ndarray, name: str) -> None:
        height, width = image.shape[:2]
        if max(height, width) > WORKING_SIDE:
            image = image_io.resize_max_side(image, WORKING_SIDE)
            widget.message.success(
                f"{name}: {width}×{height} pixels, downscaled to {image.shape[1]}×{image.shape[0]} for style transfer."
            )
        self.images[which], self.names[which] = image, name
        self.views[which].value = _photo_bytes(image)
        self.captions[which].value = f"{which}: {name}"

    @property
    def setting(self) -> KnobSetting:
        """The setting used: the explorer's controls, or the preset's position."""
        return self.explorer.setting if self.explorer is not None else KnobSetting()

    def summary(self) -> str:
        """What the control shows now, as text (for :func:`utils.widgets.show_control`)."""
        lines = [
            f"Stylise your own photo: content {self.names.get('content')} "
            f"({'x'.join(map(str, self.images['content'].shape[1::-1]))} px), style {self.names.get('style')}; "
            f"upload others (JPEG, PNG, WebP, HEIC)."
        ]
        if self.result is None:
            lines.append(
                f"Press Stylise: {self.steps.value} L-BFGS steps at {self.size.value} px with "
                f"{self.setting.label()}; Stop keeps the best image so far."
            )
        else:
            lines.append(self._result_line(self.result))
        return "\n".join(lines)

    def _work(self, run: BackgroundRun) -> NSTResult:
        steps, size = int(self.steps.value), int(self.size.value)
        settings = self.setting.settings(size)
        run.progress(0, steps, "building VGG19 ...")
        engine = StyleTransfer(self.images["content"], [self.images["style"]], settings)
        started = time.perf_counter()

        def callback(entry: dict, preview) -> bool:
            run.progress(
                entry["step"],
                steps,
                f"step {entry['step']} of {steps}: J = {entry['total']:.4g} ({time.perf_counter() - started:.0f} s)",
            )
            if entry["step"] % self.preview_every == 0:
                _show_image(self.views["result"], png_bytes(preview()))
            return run.stopped

        return engine.run(steps, optimizer=OPTIMIZER, progress=False, callback=callback)

    @staticmethod
    def _result_line(result: NSTResult) -> str:
        if result.stopped:
            return (
                f"Stopped after {result.steps} steps: the best image so far "
                f"(J = {result.final_losses['total']:.4g}, from {result.initial_losses['total']:.4g})."
            )
        return (
            f"Done: {result.steps} steps in {result.total_seconds:.1f} s, J {result.initial_losses['total']:.4g} "
            f"→ {result.final_losses['total']:.4g}."
        )

    def _show_result(self, result: NSTResult) -> None:
        self.result = result
        _show_image(self.views["result"], png_bytes(result.image))
        height, width = result.image.shape[:2]
        self.captions["result"].value = f"result ({width}×{height})" + (", stopped" if result.stopped else "")
        self.download.value = download_link(result.image, "stylised.png").value
        self.runner.message.success(self._result_line(result))

    def send_to_explorer(self) -> None:
        """Show the current content and style in the knob explorer (its grid for them is computed on request)."""
        if self.explorer is None:
            return
        self.explorer.set_images(
            self.images["content"], self.images["style"], self.names["content"], self.names["style"]
        )
        missing = len(self.explorer.grid) - self.explorer.stored()
        self.runner.message.info(
            f"The knob explorer now shows {self.names['content']} + {self.names['style']}; "
            + (
                f"press Compute the grid for these images there ({missing} settings)."
                if missing
                else "its grid is computed."
            )
        )

    def run(self, background: bool = True) -> NSTResult | None:
        """Stylise now (what the button does); ``background=False`` waits for the result."""
        if background:
            self.runner.start(self._work, self._show_result)
            return None
        return self.runner.run_now(self._work, self._show_result)
