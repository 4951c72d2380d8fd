"""Saving a report as a Markdown and a JSON file, both or neither."""

import pathlib

from kd_toolkit.utils.atomic_io import atomic_write_texts


class SavesReportFiles:
    """Gives a report with `to_markdown()` and `to_json()` a `save()`.

    A subclass names its two files in `MARKDOWN_FILE` and `JSON_FILE`.
    """

    MARKDOWN_FILE = "report.md"
    JSON_FILE = "report.json"

    def save(self, out_dir, overwrite=False):
        """Writes the Markdown and JSON reports atomically into `out_dir`.

        Args:
            out_dir: str or `os.PathLike`. Existing directory.
            overwrite: bool. Replace existing reports. Defaults to `False`.

        Returns:
            `(markdown_path, json_path)`.

        Raises:
            FileExistsError: if a report exists and `overwrite` is False.
        """
        out_dir = pathlib.Path(out_dir)
        return tuple(
            atomic_write_texts(
                {
                    out_dir / self.MARKDOWN_FILE: self.to_markdown(),
                    out_dir / self.JSON_FILE: self.to_json() + "\n",
                },
                overwrite,
            )
        )
