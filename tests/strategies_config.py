"""Hypothesis strategies for config documents (YAML-serialisable structures)."""

from __future__ import annotations

from hypothesis import strategies as st

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30),
    st.sampled_from(["true", "all", "errors", "off", "https://k@h/1", "collect", "telemetry"]),
)  # fmt: skip
keys = st.one_of(st.sampled_from(["telemetry", "collect", "dsn", "environment", "spotlight",
                                  "exit_timeout"]), st.text(max_size=10))  # fmt: skip


def yaml_documents() -> st.SearchStrategy[object]:
    """Random nested mappings and lists, often with a `telemetry` section."""
    tree = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(keys, inner, max_size=4), max_leaves=20)  # fmt: skip
    section = st.dictionaries(keys, tree, max_size=6)
    return st.one_of(tree, st.fixed_dictionaries({"telemetry": section}),
                     st.fixed_dictionaries({"telemetry": tree}))  # fmt: skip
