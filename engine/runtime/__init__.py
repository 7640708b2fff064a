"""Where a frame goes: the live path from a picture to the people shown on it.

Box geometry (``boxes``) and the rule that turns a pose into the next crop
(``next_crop``), shared by the person detector and the tracker; the live frame budget
(``budget``: how many crops fit a frame, and whether the detector does); one way to
time a stage, with callbacks (``profile``).
"""
