"""Where a frame goes: the live path from a picture to the people shown on it.

``pipeline`` (the five stages a frame passes: detect, crop, infer, decode, smooth) and
``worker`` (the pipeline on a thread of its own, for the window); ``detector`` (finding
people), ``tracker`` (following them from frame to frame; ``next_crop``: a pose's next
crop; ``identities``: an id found again after a brief loss), ``occlusion`` (the people
in front painted out of a crop), ``crop`` (a box to the model's input and back),
``smoothing`` (One Euro per person); ``boxes`` (box geometry the detector and the
tracker share), ``budget`` (the live frame budget: how many crops fit a frame, and
whether the detector does), ``profile`` (one way to time a stage, with callbacks).
"""
