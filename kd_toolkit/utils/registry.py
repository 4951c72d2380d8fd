"""One registry type for everything kd_toolkit looks up by name: losses,
methods, models, datasets and shipped models."""

from kd_toolkit.utils.validation import check_choice


class Registry:
    """Entries by name, with one behaviour for every kind of entry.

    `names()` is sorted; `get(name)` returns the entry or raises a
    `ValueError` that lists close matches and every valid name and ends
    with `Received: <argument>=<name>`; a name registered twice for
    different entries is refused.

    Args:
        what: str. What an entry is, for messages (`"model name"`).
        argument: str. The argument that takes a name (`"name"`,
            `"method"`), for messages.

    Example:

    ```python
    LOSSES = Registry("distillation loss", "loss")

    @LOSSES.register("kd")
    class KD(DistillationLoss): ...

    LOSSES.get("kd")  # KD
    LOSSES.get("kdd")  # ValueError: Unknown distillation loss. Did you
                       # mean ['kd']? Expected one of [...]. Received:
                       # loss='kdd'
    ```
    """

    def __init__(self, what, argument):
        self.what = what
        self.argument = argument
        self._entries = {}

    def register(self, name, entry=None):
        """Adds `entry` as `name`; without `entry`, a decorator.

        Raises:
            ValueError: if `name` is taken by another entry.
        """
        if entry is None:
            return lambda e: self.register(name, e)
        taken = self._entries.get(name, entry)
        if taken is not entry:
            raise ValueError(
                f"The {self.what} {name!r} is already registered, for "
                f"{_label(taken)}. Received: {_label(entry)}"
            )
        self._entries[name] = entry
        return entry

    def names(self):
        """The registered names, sorted."""
        return sorted(self._entries)

    def get(self, name):
        """The entry registered as `name`.

        Raises:
            ValueError: for an unknown name, listing close matches and
                every valid name.
        """
        check_choice(self.argument, name, self.names(), what=self.what)
        return self._entries[name]

    def __contains__(self, name):
        return isinstance(name, str) and name in self._entries

    def __len__(self):
        return len(self._entries)


def _label(entry):
    return getattr(entry, "__name__", None) or repr(entry)
