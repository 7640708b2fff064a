"""The pose networks: what a model is, in PyTorch, and how it becomes an ONNX file.

``model`` (``ModelConfig`` and the student networks' builder), ``blazenet`` and
``movenet_net`` (the BlazePose- and MoveNet-shaped students), ``simcc`` (decoding the
SimCC heads' x and y logits into keypoints), ``quality`` (a pose's expected OKS from its
confidences), ``export_onnx`` (a checkpoint to the ``.onnx`` file the backends run).
Where a keypoint is defined is ``engine.skeleton``; reading a model file,
``engine.modelfile``; running one, ``engine.backends``.
"""
