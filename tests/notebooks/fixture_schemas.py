"""Results schemas of the test-fixture notebooks (01_alpha, 02_beta) and of the generic ``00_test``
runs the unit tests write; imported by ``conftest.py`` and by the fixture notebooks themselves."""
from nbkit.schema import Field, Schema, register

register(Schema("01_alpha", 1, {
    "value": Field("number", "a seeded normal draw times x"), "x": Field("number", "the parameter x"),
    "smoke": Field("bool", "the smoke parameter"), "env": Field("dict", "threads and batch seen"),
    "timing": Field("dict", "wall-clock only")}))
register(Schema("02_beta", 1, {
    "double": Field("number", "twice 01_alpha's value"), "upstream": Field("str", "the 01_alpha run read")}))
register(Schema("00_test", 1, {
    "value": Field("any", "anything", optional=True), "rows": Field("list", "anything", optional=True),
    "v": Field("any", "anything", optional=True)}))


def fake_results(run_dir, notebook: str, results: dict):
    """Write a stand-in ``results.json`` for a run of ``notebook`` holding only the keys a test needs:
    stamped with the notebook's current schema but not checked against it, then vouched for."""
    from nbkit import io, runs, schema

    io.write_json(run_dir / runs.RESULTS, {"schema": schema.schema_for(notebook).tag, **results})
    runs.mark_complete(run_dir)


def fake_run(root, batch: str, notebook: str, params: dict, results: dict | None, feeds=()):
    """A run folder of ``notebook`` in ``<root>/<batch>`` as a batch leaves it: ``params.json``,
    ``batch.json`` (the tables and figures it feeds) and, unless ``results`` is None (a half-written
    run), stand-in results (``fake_results``). Returns the folder."""
    from nbkit import io, runs

    d = runs.run_dir_for(notebook, params, batch=batch, root=root)
    d.mkdir(parents=True)
    io.write_json(d / runs.PARAMS, params)
    io.write_json(d / "batch.json", {"batch": batch, "feeds": list(feeds)})
    if results is not None:
        fake_results(d, notebook, results)
    return d
