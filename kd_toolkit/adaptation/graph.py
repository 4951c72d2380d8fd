"""The layer graph of a functional teacher, and the cuts through it.

Size: one class, the functional-graph walker that cuts and surgery share: its
queries and its rewiring read the same producer and consumer maps.
"""

import collections
import dataclasses
import difflib

import keras

from kd_toolkit.utils import compat
from kd_toolkit.utils.model_graph import inline_nested
from kd_toolkit.utils.model_graph import is_graph_model


def check_graph_model(model, arg="teacher"):
    """Raises unless `model` is a built functional or sequential model.

    Args:
        model: the model to inspect.
        arg: argument name used in the error message.

    Raises:
        TypeError: if `model` is not a `keras.Model`.
        ValueError: if it is subclassed (no layer graph) or not built.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"`{arg}` must be a keras.Model. Received: {arg}={model!r} of "
            f"type {type(model).__name__}"
        )
    if not is_graph_model(model):
        raise ValueError(
            "Activation map adaptation edits the layer graph, so only "
            "functional and (built) sequential teachers are supported; "
            f"'{model.name}' ({type(model).__name__}) is a subclassed or "
            "unbuilt model with no layer graph. Rebuild it with the "
            f"functional API. Received: {arg}={model.name!r}"
        )


@dataclasses.dataclass(frozen=True)
class Cut:
    """A tensor of the teacher graph that everything downstream flows through.

    Attributes:
        layer: name of the layer whose output is the cut.
        shape: output shape without the batch dimension.
        position: index of the layer in topological order.
        block_boundary: whether the cut ends a block (see `find_cuts`).
    """

    layer: str
    shape: tuple
    position: int
    block_boundary: bool = False

    @property
    def resolution(self):
        """Spatial size `(h, w)` of a feature map, None for other ranks."""
        return tuple(self.shape[:2]) if len(self.shape) == 3 else None


@dataclasses.dataclass(frozen=True)
class CutTable:
    """The valid cuts of a model, printable as a table.

    Iterating yields `Cut`s in topological order; `names()` lists the layer
    names, which are what `Replacement(start=..., end=...)` takes.
    """

    model_name: str
    cuts: tuple
    blocks_only: bool = False

    def __iter__(self):
        return iter(self.cuts)

    def __len__(self):
        return len(self.cuts)

    def __getitem__(self, index):
        return self.cuts[index]

    def names(self):
        """Layer names of the cuts, in topological order."""
        return [c.layer for c in self.cuts]

    def blocks(self):
        """The cuts that end a block, as a `CutTable`."""
        return CutTable(
            self.model_name,
            tuple(c for c in self.cuts if c.block_boundary),
            blocks_only=True,
        )

    def by_resolution(self):
        """`{(h, w): [Cut, ...]}` for the feature-map cuts, in order."""
        groups = {}
        for cut in self.cuts:
            if cut.resolution is not None:
                groups.setdefault(cut.resolution, []).append(cut)
        return groups

    def __str__(self):
        rows = [
            (
                str(c.position),
                c.layer,
                str(c.shape),
                "x".join(map(str, c.resolution)) if c.resolution else "-",
            )
            for c in self.cuts
        ]
        head = ("#", "layer", "output shape", "resolution")
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        what = "Block boundaries" if self.blocks_only else "Cuts"
        lines = [
            f"{what} of '{self.model_name}' ({len(rows)}):",
            fmt.format(*head),
            fmt.format(*("-" * w for w in widths)),
        ]
        previous = None
        for cut, row in zip(self.cuts, rows):
            if previous is not None and cut.resolution != previous:
                lines.append("")  # one group per resolution
            previous = cut.resolution
            lines.append(fmt.format(*row).rstrip())
        return "\n".join(lines)


class LayerGraph:
    """Index of the nodes of a functional model: producers and consumers.

    Only the top level of the graph is indexed: a nested model is one node.
    Nodes are ordered topologically (inputs first).

    Args:
        model: a built functional or sequential `keras.Model`.
    """

    def __init__(self, model):
        check_graph_model(model)
        self.model = model
        self.inputs = list(model.inputs)
        self.outputs = list(model.outputs)
        self._input_ids = {id(t) for t in self.inputs}
        self.nodes = []
        self._producer = {}
        self._consumers = collections.defaultdict(list)
        self._visit()

    # -- construction ---------------------------------------------------
    def _node_of(self, tensor):
        op, node_index, _ = compat.keras_history(tensor)
        return compat.inbound_nodes(op)[node_index]

    def _visit(self):
        """Iterative post-order walk from the outputs: topological order."""
        done = set()
        stack = [(t, False) for t in reversed(self.outputs)]
        while stack:
            tensor, expanded = stack.pop()
            if id(tensor) in self._input_ids:
                continue
            node = self._node_of(tensor)
            if id(node) in done:
                continue
            if expanded:
                done.add(id(node))
                self.nodes.append(node)
                for out in node.output_tensors:
                    self._producer[id(out)] = node
                for inp in node.input_tensors:
                    self._consumers[id(inp)].append(node)
                continue
            stack.append((tensor, True))
            for inp in reversed(node.input_tensors):
                if (
                    id(inp) not in self._input_ids
                    and id(self._node_of(inp)) not in done
                ):
                    stack.append((inp, False))

    # -- queries ----------------------------------------------------------
    def producer(self, tensor):
        """The node computing `tensor`, or `None` for a model input."""
        return self._producer.get(id(tensor))

    def consumers(self, tensor):
        """The nodes reading `tensor`."""
        return list(self._consumers.get(id(tensor), ()))

    def is_input(self, tensor):
        return id(tensor) in self._input_ids

    def tensor_name(self, tensor):
        """Readable name: the producing layer, with an index if ambiguous."""
        op, _, index = compat.keras_history(tensor)
        node = self.producer(tensor)
        if node is not None and len(node.output_tensors) > 1:
            return f"{op.name}[{index}]"
        return op.name

    def layer_names(self):
        """Names of the layers in the graph, topological order, inputs first."""
        names = [compat.producing_layer(t).name for t in self.inputs]
        for node in self.nodes:
            if node.operation.name not in names:
                names.append(node.operation.name)
        return names

    def layer_output(self, name, arg="layer"):
        """The single output tensor of the layer called `name`.

        Raises:
            ValueError: if no such layer exists (listing close names), or the
                layer is called several times or has several outputs, so its
                output is not one tensor.
        """
        for tensor in self.inputs:
            if compat.producing_layer(tensor).name == name:
                return tensor
        nodes = [n for n in self.nodes if n.operation.name == name]
        if not nodes:
            names = self.layer_names()
            close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
            hint = f" Closest names: {close}." if close else ""
            raise ValueError(
                f"`{arg}` is not a layer of '{self.model.name}'.{hint} Valid "
                f"cut layers: {find_cuts(self.model).names()}. "
                f"Received: {arg}={name!r}"
            )
        if len(nodes) > 1 or len(nodes[0].output_tensors) != 1:
            raise ValueError(
                f"`{arg}` must name a layer with one output tensor, called "
                f"once; layer '{name}' is called {len(nodes)} times with "
                f"{len(nodes[0].output_tensors)} output(s). "
                f"Received: {arg}={name!r}"
            )
        return nodes[0].output_tensors[0]

    def descendants(self, tensor):
        """Ids of the tensors computed from `tensor` (excluding itself)."""
        seen = set()
        stack = [tensor]
        while stack:
            for node in self.consumers(stack.pop()):
                for out in node.output_tensors:
                    if id(out) not in seen:
                        seen.add(id(out))
                        stack.append(out)
        return seen

    def ancestors(self, tensor):
        """Ids of the tensors `tensor` is computed from (excluding itself)."""
        seen = set()
        stack = [tensor]
        while stack:
            node = self.producer(stack.pop())
            if node is None:
                continue
            for inp in node.input_tensors:
                if id(inp) not in seen:
                    seen.add(id(inp))
                    stack.append(inp)
        return seen

    def crossings(self, tensor):
        """What prevents `tensor` from being a cut.

        Returns:
            `(bypass, unreached)`: `bypass` lists `(tensor, consumer_node)`
            for every other tensor that crosses the boundary (read by a node
            downstream of `tensor` without flowing through it); `unreached`
            lists the model outputs not computed from `tensor`. Both are
            empty exactly when `tensor` is a cut.
        """
        down = self.descendants(tensor)
        inside = down | {id(tensor)}
        bypass, seen = [], set()
        for node in self.nodes:
            if not any(id(o) in down for o in node.output_tensors):
                continue
            for inp in node.input_tensors:
                if id(inp) not in inside and id(inp) not in seen:
                    seen.add(id(inp))
                    bypass.append((inp, node))
        unreached = [o for o in self.outputs if id(o) not in inside]
        return bypass, unreached

    def is_cut(self, tensor):
        bypass, unreached = self.crossings(tensor)
        return not bypass and not unreached

    def cut_error(self, tensor, arg):
        """A `ValueError` explaining why the output of `arg` is not a cut."""
        name = self.tensor_name(tensor)
        bypass, unreached = self.crossings(tensor)
        reasons = []
        if bypass:
            crossing = ", ".join(
                f"output of '{self.tensor_name(t)}' (read by "
                f"'{n.operation.name}')"
                for t, n in bypass
            )
            reasons.append(
                f"{len(bypass) + 1} tensors cross this boundary: output of "
                f"'{name}' and {crossing}"
            )
        if unreached:
            reasons.append(
                "model outputs not computed from it: "
                f"{[self.tensor_name(o) for o in unreached]}"
            )
        cuts = find_cuts(self.model).names()
        return ValueError(
            f"`{arg}` must be a cut of '{self.model.name}': a single tensor "
            "that everything downstream flows through (a block boundary). "
            f"Layer '{name}' is not one: {'; '.join(reasons)}. Valid cut "
            f"layers: {cuts}. Received: {arg}={name!r}"
        )


def find_cuts(model, blocks_only=False):
    """Lists the cuts of a functional teacher: candidate `start`/`end` layers.

    A cut is the output of a layer (called once, one output) such that every
    path from the model inputs to its outputs flows through it: exactly one
    tensor crosses the boundary there. In a ResNet these are the block
    outputs, not the tensors inside a residual block (where the shortcut
    also crosses). In a chain of plain layers every layer is a cut, so
    cuts that end a block are marked: the output of a merge (`Add`,
    `Concatenate`, ...), a tensor read by several layers (a residual
    block's input), and the model's last feature map; in a model with
    neither merges nor branches, the last cut at each spatial resolution.

    Args:
        model: a functional or built sequential `keras.Model`.
        blocks_only: list only the cuts that end a block (for MobileNetV2,
            its `block_N_add` outputs and block inputs instead of every
            convolution, batch norm and activation).

    Returns:
        A `CutTable` of `Cut(layer, shape, position, block_boundary)`,
        grouped by spatial resolution when printed; `.names()` for the layer
        names, `.by_resolution()` for the groups.

    Raises:
        ValueError: if `model` is subclassed (no layer graph).

    Example:

    ```python
    print(kd_toolkit.adaptation.find_cuts(teacher))
    ```
    """
    check_graph_model(model)
    flat, paths = inline_nested(model)
    graph = LayerGraph(flat)
    candidates = list(graph.inputs) if len(graph.inputs) == 1 else []
    candidates += [
        n.output_tensors[0] for n in graph.nodes if len(n.output_tensors) == 1
    ]
    counts = collections.Counter(id(n.operation) for n in graph.nodes)
    found = []
    for position, tensor in enumerate(candidates):
        operation = compat.producing_layer(tensor)
        name = paths.get(id(tensor), operation.name)
        if counts.get(id(operation), 0) > 1:
            continue  # shared layer: its name does not pick one tensor
        if graph.is_cut(tensor):
            found.append((tensor, Cut(name, tuple(tensor.shape[1:]), position)))
    cuts = _mark_block_boundaries(graph, found)
    table = CutTable(model.name, tuple(cuts))
    return table.blocks() if blocks_only else table


def feature_maps(model):
    """Every spatial feature map of a model, cut or not, in graph order.

    Returns:
        A list of `(name, shape, merge)`: the layer name (a path inside a
        nested model), the map's shape without the batch dimension, and
        whether it is the output of a merge (`Add`, `Concatenate`: a cell
        or block output even where it is no cut, as in NASNet's cells,
        which read the two previous cells).
    """
    check_graph_model(model)
    flat, paths = inline_nested(model)
    graph = LayerGraph(flat)
    maps = []
    for node in graph.nodes:
        if len(node.output_tensors) != 1:
            continue
        tensor = node.output_tensors[0]
        if _squeezed(tensor):
            continue
        name = paths.get(id(tensor), compat.producing_layer(tensor).name)
        maps.append((name, tuple(tensor.shape[1:]), _is_merge(node)))
    return maps


def _squeezed(tensor):
    """Whether a tensor has no spatial extent: a vector, or a 1×1 map (a
    global pooling's output, a squeeze-excite gate)."""
    shape = tuple(tensor.shape[1:])
    return len(shape) != 3 or tuple(shape[:2]) == (1, 1)


def _gates(node):
    """Whether a merge node gates a map by a squeezed tensor (the multiply
    of squeeze-and-excite): that is inside a block, not a block's end."""
    return not _squeezed(node.output_tensors[0]) and any(
        _squeezed(t) for t in node.input_tensors
    )


def _branches(graph, tensor):
    """The consumers of `tensor` that start a branch of the network: a
    squeeze-excite branch (a consumer that squeezes a map) does not."""
    return [
        n
        for n in graph.consumers(tensor)
        if _squeezed(tensor) or not _squeezed(n.output_tensors[0])
    ]


def _is_merge(node):
    return node is not None and len(node.input_tensors) > 1 and not _gates(node)


def _mark_block_boundaries(graph, found):
    """The cuts of `found` (`(tensor, Cut)` pairs) with `block_boundary`.

    Block ends: the output of a merge (`Add`, `Concatenate`, not the gating
    multiply of squeeze-and-excite), a tensor that starts several branches
    (a residual block's input; a squeeze-excite branch does not count), and
    the model's last spatial feature map (larger than 1×1).
    """
    branched = any(_is_merge(n) for n in graph.nodes) or any(
        len(_branches(graph, t)) > 1 for t, _ in found
    )
    maps = [
        c for t, c in found if c.resolution is not None and not _squeezed(t)
    ]
    last_map = maps[-1].layer if maps else None
    marked = []
    for i, (tensor, cut) in enumerate(found):
        node = graph.producer(tensor)
        boundary = (
            _is_merge(node)
            or len(_branches(graph, tensor)) > 1
            or cut.layer == last_map
        )
        if not branched and cut.resolution is not None:
            following = [
                c for _, c in found[i + 1 :] if c.resolution is not None
            ]
            boundary = (
                boundary
                or not following
                or (following[0].resolution != cut.resolution)
            )
        marked.append(boundary)
    # A merge followed by shape-keeping layers (Add -> ReLU): the block ends
    # after them.
    for i in range(len(found) - 1):
        tensor, cut = found[i]
        after, next_cut = found[i + 1]
        node = graph.producer(after)
        if (
            marked[i]
            and len(graph.consumers(tensor)) == 1
            and node is not None
            and len(node.input_tensors) == 1
            and node.input_tensors[0] is tensor
            and next_cut.shape == cut.shape
        ):
            marked[i], marked[i + 1] = False, True
    return [
        dataclasses.replace(c, block_boundary=b)
        for (_, c), b in zip(found, marked)
    ]
