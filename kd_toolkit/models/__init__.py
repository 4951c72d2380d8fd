"""The model zoo: classifiers that output logits, with stable layer names.

Builders (every model ends with `pool` = GlobalAveragePooling2D and
`logits` = Dense, no softmax; any input shape of rank 3):

- `resnet(name, ...)`: CIFAR ResNets `resnet8` ... `resnet110`,
  `resnet8x4`, `resnet32x4` (He et al. 2016; CRD widths for `x4`).
- `wide_resnet(depth, width_factor, ...)`: WRN-d-k (Zagoruyko and
  Komodakis 2016), e.g. `wrn_16_2`, `wrn_40_2`.
- `simple_cnn(...)`: conv-BN-ReLU-max-pool stages, a tiny student.
- `mobilenet_tiny(...)`: depthwise-separable blocks.
- `get(name, ...)` / `names()`: the zoo by name.
- `block_output_names(model)` / `stage_output_names(model)`: the cut
  layers of the naming contract.

Layer-name contract (1-based `i`, `j`; details in each builder's module):
`stem_conv`, `stem_bn`, `stem_out`; `stage{i}_block{j}_conv1` ... and the
block output `stage{i}_block{j}_out`; `stage{i}_out` (an `Identity` on the
last block of stage `i`); `pool`; `logits`. `stem_out`,
`stage{i}_block{j}_out` and `stage{i}_out` are cuts of the graph.
"""

from kd_toolkit.models.layer_names import block_output_names
from kd_toolkit.models.layer_names import stage_output_names
from kd_toolkit.models.mobilenet_tiny import mobilenet_tiny
from kd_toolkit.models.resnet import resnet
from kd_toolkit.models.simple_cnn import simple_cnn
from kd_toolkit.models.wide_resnet import wide_resnet
from kd_toolkit.models.zoo import get
from kd_toolkit.models.zoo import names

__all__ = [
    "block_output_names",
    "get",
    "mobilenet_tiny",
    "names",
    "resnet",
    "simple_cnn",
    "stage_output_names",
    "wide_resnet",
]
