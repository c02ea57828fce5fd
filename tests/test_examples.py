"""examples/notebook.ipynb runs top to bottom (its code cells, in order, as one script)."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def test_the_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    with open(os.path.join(HERE, os.pardir, "examples", "notebook.ipynb"), encoding="utf-8") as f:
        notebook = json.load(f)
    monkeypatch.chdir(str(tmp_path))
    namespace = {"__name__": "__notebook__"}
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert len(cells) >= 6
    for number, cell in enumerate(cells):
        source = "".join(cell["source"])
        exec(compile(source, "notebook cell %d" % number, "exec"), namespace)
    summary = namespace["summary"]
    assert (summary.failed, summary.refused) == (0, 1)  # the forwarded image: refused for good (234043)
    assert namespace["post"]._repr_html_().startswith("<div")
    assert "image/png" in namespace["chart"]._repr_mimebundle_()
