"""The two public-domain portraits that ship inside installed packages: scikit-image's astronaut and matplotlib's
Grace Hopper. The demo, the export checks and the portable tests use them, so nothing needs ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from swapcam.core.errors import SwapcamError
from swapcam.core.media_io import load_image

PEOPLE = ("astronaut", "grace_hopper")  # A: the face the camera sees; B: the face to render
ORIGINS = ("skimage.data.astronaut()", "matplotlib's sample_data/grace_hopper.jpg")  # both public domain


def portraits() -> tuple[np.ndarray, np.ndarray]:
    """(astronaut, grace_hopper) as RGB uint8, from the scikit-image and matplotlib packages."""
    try:
        import matplotlib
        from skimage import data
    except ImportError as exc:
        raise SwapcamError(
            f"the packaged portraits need scikit-image and matplotlib ({exc.name} missing): run `make install`"
        ) from None
    hopper = load_image(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    return np.ascontiguousarray(data.astronaut()), hopper
