"""uniskel: live 2D pose on the 21-keypoint unified skeleton.

The few lines most developers need (see the README's "Python API")::

    import cv2, uniskel
    body = uniskel.Body()                  # the bundled student on the fastest backend here
    for person in body(cv2.imread("photo.jpg")):
        print(person.id, person.keypoints)  # (21, 2) pixels; person.scores (21,)

The layers, each a folder of the repository installed under this namespace:
``uniskel.engine`` (a frame in, keypoints out; no Qt), ``uniskel.app`` (the PySide6
window), ``uniskel.training`` (the distillation pipeline) and ``uniskel.commands`` (the
``uniskel`` command line). Importing ``uniskel`` itself loads none of them; ``Body`` and
``Person`` are loaded on first use.
"""
__version__ = "0.1.0"
__all__ = ["Body", "Person", "__version__"]


def __getattr__(name):
    if name in ("Body", "Person"):
        from uniskel.engine import api

        return getattr(api, name)
    raise AttributeError(f"module 'uniskel' has no attribute {name!r}")
