"""`hmtl prepare CORPUS SRC_DIR --out MANIFEST.csv` and `hmtl prepare merge A.csv B.csv --out M.csv`

One sub-command per registered recipe (the registry feeds the choices, as in lhotse), plus
`merge`. Only the recipes' small modules are imported here, never torch, so `--help` is instant."""

from __future__ import annotations

import argparse

MERGE_HELP = "merge manifests: union of columns, paths rewritten for the new manifest's folder"
MERGE_EPILOG = """example: a two-language digits corpus. FSDD's speakers are all male, so its
gender is filled in; FSDD's own split is dropped (AudioMNIST_AZ has none; the run then splits):
  hmtl prepare merge fsdd.csv az.csv --out digits.csv \\
      --add-column language=en,az --fill 1:gender=male --drop split"""


def _add_column(text: str) -> tuple[str, list[str]]:
    name, sep, values = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"'{text}': expected NAME=VALUE1,VALUE2,... "
                                         "(one value per input, in order)")
    return name.strip(), [v.strip() for v in values.split(",")]


def _fill(text: str) -> tuple[int | None, str, str]:
    target, sep, value = text.partition("=")
    index, colon, name = target.rpartition(":")
    if not sep or not name.strip() or (colon and not index.strip().isdigit()) \
            or (colon and int(index) < 1):
        raise argparse.ArgumentTypeError(f"'{text}': expected [INPUT:]COLUMN=VALUE, INPUT "
                                         "counting from 1 (all inputs when left out)")
    return (int(index) - 1 if colon else None), name.strip(), value.strip()


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..recipes import IMPORTERS, RECIPES

    p.description = ("Write the manifest of a known corpus layout or of a generic one (folder, "
                     "audiofolder, lhotse), or merge manifests.")
    sub = p.add_subparsers(dest="corpus", metavar="CORPUS", required=True,
                           title="corpora, importers (and merge)")
    for name, recipe in sorted(RECIPES.items()):
        c = sub.add_parser(name, help=recipe.title, description=recipe.about,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        c.add_argument("src", help="the corpus folder, as downloaded and unpacked")
        c.add_argument("--out", required=True, help="manifest to write (CSV)")
        if recipe.split:
            c.add_argument("--corpus-split", action="store_true",
                           help=f"write {recipe.split} as the split column (default: none, "
                                "the run splits)")
    for name, importer in sorted(IMPORTERS.items()):
        c = sub.add_parser(name, help=importer.title, description=importer.about,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        c.add_argument("src", metavar="SOURCE", help="the folder (or file) in this layout")
        c.add_argument("--out", required=True, help="manifest to write (CSV)")
        for option in importer.options:
            option.add_to(c)
    m = sub.add_parser("merge", help=MERGE_HELP, description=MERGE_HELP, epilog=MERGE_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("inputs", nargs="+", metavar="MANIFEST", help="manifests to merge, in order")
    m.add_argument("--out", required=True, help="manifest to write (CSV)")
    m.add_argument("--add-column", action="append", type=_add_column, default=[],
                   metavar="NAME=V1,V2,...",
                   help="a new column, constant per input: one value per input, in order")
    m.add_argument("--fill", action="append", type=_fill, default=[], metavar="[I:]COLUMN=VALUE",
                   help="VALUE in input I's empty (or missing) COLUMN cells; I counts from 1, "
                        "all inputs when left out")
    m.add_argument("--drop", action="append", default=[], metavar="COLUMN",
                   help="leave COLUMN out of the output (e.g. a split only some inputs have)")


def main(args: argparse.Namespace) -> int:
    from ..recipes import IMPORTERS, write_import

    if args.corpus == "merge":
        from ..errors import HmtlError
        from ..recipes import merge_manifests

        names = [name for name, _ in args.add_column]
        if len(set(names)) != len(names):
            raise HmtlError(f"--add-column: a column is given twice ({', '.join(names)})")

        out, n = merge_manifests(args.inputs, args.out, dict(args.add_column), args.fill,
                                 args.drop)
    elif args.corpus in IMPORTERS:
        out, n, notes = write_import(args.corpus, args.src, args.out,
                                     **IMPORTERS[args.corpus].options_from(args))
        print(f"{out}: {n} clips", *(f"note: {note}" for note in notes), sep="\n")
        return 0
    else:
        from ..recipes import write_manifest

        out, n = write_manifest(args.corpus, args.src, args.out,
                                corpus_split=getattr(args, "corpus_split", False))
    print(f"{out}: {n} clips")
    return 0
