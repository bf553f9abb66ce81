"""Result tables: one frame, three files that agree."""

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.tables import write_result_table


def test_three_forms_hold_the_same_rounded_values(tmp_path):
    frame = pd.DataFrame({"kind": ["diffusion", "knn"], "top10": [0.079012345, np.nan], "n": [200, 50]})
    written = write_result_table(frame, tmp_path / "sub" / "table1.csv")
    assert [p.name for p in written] == ["table1.csv", "table1.md", "table1.html"]
    back = pd.read_csv(tmp_path / "sub" / "table1.csv")
    assert back["top10"].iloc[0] == 0.079 and np.isnan(back["top10"].iloc[1])
    assert re.search(r"\|\s*diffusion\s*\|\s*0\.0790\s*\|", (tmp_path / "sub" / "table1.md").read_text())
    html = (tmp_path / "sub" / "table1.html").read_text()
    assert "<td>0.0790</td>" in html and "<td>diffusion</td>" in html and "<title>table1</title>" in html


def test_a_table_path_must_be_csv(tmp_path):
    with pytest.raises(ValueError, match="must end in one of"):
        write_result_table(pd.DataFrame({"a": [1]}), tmp_path / "t.txt")
