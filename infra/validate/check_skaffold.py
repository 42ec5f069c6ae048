"""Validate skaffold.yaml against the skaffold/v4beta13 JSON schema (draft-07).

usage: python check_skaffold.py SKAFFOLD_YAML SCHEMA_JSON
Exits 1 and lists every violation (with its path) when the file does not conform.
Run by validate-manifests.sh and by infra.test.ts, with the venv that script creates.
"""
import json
import sys

import jsonschema
import yaml


def depth(error: jsonschema.ValidationError) -> int:
    """How deep into the document the most specific cause of this error lies."""
    own = len(error.absolute_path)
    return max([own] + [depth(sub) for sub in error.context])


def explain(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """The specific causes of an anyOf/oneOf failure: the errors of the branch that matched the
    document deepest (e.g. BuildConfig's branch for `local`, not the one for `googleCloudBuild`)."""
    if not error.context:
        return [error]
    by_branch: dict[object, list[jsonschema.ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    # Deepest first; on a tie, the branch whose errors are deeper in total (it got further).
    best = max(
        by_branch.values(),
        key=lambda subs: (max(depth(s) for s in subs), sum(depth(s) for s in subs)),
    )
    return [leaf for sub in best for leaf in explain(sub)]


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    skaffold_path, schema_path = argv[1], argv[2]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(skaffold_path, encoding="utf-8") as f:
        documents = [d for d in yaml.safe_load_all(f) if d is not None]
    if not documents:
        print(f"ERROR {skaffold_path}: no YAML document")
        return 1

    # The schema's root is `anyOf: [SkaffoldConfig]`, under which every violation would surface as
    # one vague "not valid under any of the given schemas"; validate against the one branch instead.
    branches = schema.get("anyOf", [])
    if len(branches) == 1 and "$ref" in branches[0]:
        schema = {"$ref": branches[0]["$ref"], "definitions": schema.get("definitions", {})}
    validator = jsonschema.Draft7Validator(schema)
    failures = 0
    for index, document in enumerate(documents):
        for top in validator.iter_errors(document):
            for error in explain(top):
                where = ".".join(str(p) for p in error.absolute_path) or "(root)"
                print(f"ERROR {skaffold_path} document {index}: {where}: {error.message}")
                failures += 1
    if failures:
        return 1
    print(f"OK {skaffold_path} conforms to {schema_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
