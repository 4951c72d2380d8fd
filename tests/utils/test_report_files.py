import dataclasses
import json

import pytest

from kd_toolkit.utils.report_files import SavesReportFiles


@dataclasses.dataclass(frozen=True)
class _Report(SavesReportFiles):
    MARKDOWN_FILE = "r.md"
    JSON_FILE = "r.json"

    value: int

    def to_markdown(self):
        return f"# value {self.value}\n"

    def to_json(self):
        return json.dumps({"value": self.value})


def test_writes_both_files_and_refuses_to_overwrite(tmp_path):
    paths = _Report(3).save(tmp_path)
    assert [p.name for p in paths] == ["r.md", "r.json"]
    assert (tmp_path / "r.json").read_text() == '{"value": 3}\n'
    with pytest.raises(FileExistsError):
        _Report(4).save(tmp_path)
    assert (tmp_path / "r.md").read_text() == "# value 3\n"  # untouched
    _Report(4).save(tmp_path, overwrite=True)
    assert (tmp_path / "r.md").read_text() == "# value 4\n"
