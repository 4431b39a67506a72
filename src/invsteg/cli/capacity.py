"""``capacity``: how many bytes of any file a cover holds, per method and model."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from invsteg.cli._app import (
    DEFAULT_MAX_PIXELS,
    JsonOption,
    MaxPixelsOption,
    WeightsOption,
    app,
    check_file_model,
    check_model,
    emit_json,
    say,
)


@app.command()
def capacity(
    cover: Annotated[str, typer.Argument(help="Cover image, or - for stdin.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="One embedding model (default: every registered one).")
    ] = None,
    weights: WeightsOption = None,
    name: Annotated[
        str, typer.Option("--name", help="The file name that will be stored (it costs its UTF-8 length).")
    ] = "",
    no_passphrase: Annotated[
        bool, typer.Option("--no-passphrase", help="Capacity without encryption (8 bytes more).")
    ] = False,
    robust: Annotated[bool, typer.Option("--robust", help="The capacity of embed-file --robust.")] = False,
    max_pixels: MaxPixelsOption = DEFAULT_MAX_PIXELS,
    as_json: JsonOption = False,
) -> None:
    """How many bytes of any file COVER holds, net of header, encryption and error correction."""
    from invsteg import api
    from invsteg.zoo import Task, default_model

    check_model(model)
    check_file_model(robust=robust, model=model, weights=weights)
    if model is not None:
        api.embedding_spec(model)  # a wrong model is refused before the image is read
    cover_image = api.read_image(cover, "cover", max_pixels=max_pixels)
    if robust:
        net = api.robust_capacity(cover_image.pixels, file_name=name, encrypted=not no_passphrase)
        width, height = cover_image.size
        kind = "not encrypted" if no_passphrase else "encrypted"
        if as_json:
            row = {
                "method": api.ROBUST_FILE,
                "model": None,
                "net_bytes": net,
                "bpp": 8 * net / (width * height),
                "encrypted": not no_passphrase,
            }
            emit_json({"cover": cover, "size": [width, height], "models": [row]})
        else:
            say(
                f"robust: {net:,} bytes ({8 * net / (width * height):.4f} bits per pixel), {kind}, "
                "after header "
                "and error correction; smaller files survive stronger attacks (embed-file --robust "
                "verifies its stego against JPEG at --jpeg and a resize to --resize)"
            )
        return
    rows = api.capacity(
        cover_image.pixels, model=model, weights=weights, file_name=name, encrypted=not no_passphrase
    )
    adaptive = None
    if model is None and weights is None:
        adaptive = api.adaptive_capacity(cover_image.pixels, file_name=name, encrypted=not no_passphrase)
    if as_json:
        models = [{"method": api.STEG_CINN, "model": used} | asdict(info) for used, info in rows]
        if adaptive is not None:
            models.insert(0, {"method": api.ADAPTIVE, "model": None, "format": 3} | asdict(adaptive))
        emit_json({"cover": cover, "size": list(cover_image.size), "models": models})
        return
    if adaptive is not None:
        kind = "encrypted" if adaptive.encrypted else "not encrypted"
        say(
            f"{api.ADAPTIVE} (default, format 3): {adaptive.net_bytes:,} bytes ({adaptive.bpp:.3f} "
            f"bits per pixel), {kind}, after header and error correction; safe size "
            f"{adaptive.safe_bytes:,} bytes (beyond it steganalysis tells stegos from photos more "
            "often: README, How hidden is it?)"
        )
    default = default_model(Task.EMBED)
    for used, info in rows:
        kind = "encrypted" if info.encrypted else "not encrypted"
        label = f"{used} (default model, format 2)" if used == default else used
        say(
            f"{label}: {info.net_bytes:,} bytes ({info.bpp:.3f} bits per pixel), {kind}, "
            f"after header and error correction, with a stored name of {info.file_name_bytes} bytes; "
            f"safe size {info.safe_bytes:,} bytes (beyond it steganalysis tells stegos from "
            "photos more often: README, How hidden is it?)"
        )
