"""The DVC bridge: dvc.yaml export and its validation, `exec`, and `import-dvc` (docs/dvc.md).

`dvcyaml` builds the export, `execute` runs one stage as an exported cmd does, `validate`
runs fastpipe and DVC side by side, `md5` hashes files as DVC does, `dvcfiles` reads dvc.yaml
and dvc.lock, `adopt` turns what DVC computed into fastpipe locks, `report` renders the results.
DVC itself is only ever run as a command, never imported.
"""
