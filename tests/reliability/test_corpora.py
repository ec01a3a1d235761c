"""Bad corpora through the whole pipeline: one clear error naming the file (and line), no cache.

Each case is a real file on disk given to ``extract_task`` as a user task, the way the CLI and
the Start page pass it. Cases the format allows (a BOM, Windows line endings) must simply work.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronviz.corpora.readers import read_conll2000
from neuronviz.errors import DataError, NeuronvizError
from neuronviz.extraction.fill_cache import extract_task
from neuronviz.store.activation_cache import ActivationCache

GOOD_CONLLU = "".join(
    f"1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\t{w}\t{w}\tNOUN\tNN\t_\t0\troot\t_\t_\n\n"
    for w in ("cat", "dog", "bird", "fish", "cow", "hen", "pig", "ant", "bee", "elk")
)


def _parallel(tmp: Path, words: bytes, labels: bytes) -> str:
    (tmp / "s.txt").write_bytes(words)
    (tmp / "l.txt").write_bytes(labels)
    return f"parallel:{tmp / 's.txt'},{tmp / 'l.txt'}"


def _conllu(tmp: Path, content: bytes, task: str = "upos") -> str:
    (tmp / "c.conllu").write_bytes(content)
    return f"{task}:{tmp / 'c.conllu'}"


TEN = b"".join(
    b"the %s sat\n" % w
    for w in (b"cat", b"dog", b"pig", b"cow", b"hen", b"ant", b"bee", b"elk", b"fox", b"owl")
)
TEN_LABELS = b"DT NN VB\n" * 10

BAD = {
    "ragged columns": (
        lambda t: _conllu(t, GOOD_CONLLU.replace("\tdet\t_\t_", "\tdet", 1).encode()),
        "expected 10 columns",
        1,
    ),
    "missing columns": (lambda t: _conllu(t, b"1\tThe\n\n"), "found 2", 1),
    "label column that does not exist": (
        lambda t: _conllu(t, GOOD_CONLLU.encode(), "lemma"),
        "unknown task",
        None,
    ),
    "files of different lengths": (
        lambda t: _parallel(t, TEN, TEN_LABELS[:-9]),
        "10 sentences but",
        None,
    ),
    "tokens and labels disagree": (
        lambda t: _parallel(t, TEN.replace(b"sat", b"sat down", 1), TEN_LABELS),
        "4 tokens but",
        1,
    ),
    "token of only whitespace": (
        lambda t: _conllu(t, GOOD_CONLLU.replace("\tThe\t", "\t \t", 1).encode()),
        "only whitespace",
        1,
    ),
    "non-UTF-8 bytes": (
        lambda t: _parallel(t, TEN.replace(b"cat", b"caf\xe9"), TEN_LABELS),
        "not valid UTF-8",
        1,
    ),
    "empty file": (lambda t: _parallel(t, b"", b""), "is empty", None),
    "a directory": (lambda t: f"upos:{t}", "", None),
    "binary file": (lambda t: _conllu(t, b"\x00\x01\x02PK\x03\x04" * 100), "binary", None),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_corpus_gives_one_clear_error_and_writes_nothing(case, tiny_bert, tmp_path):
    make, message, line = BAD[case]
    data = tmp_path / "data"
    data.mkdir()
    task = make(data)
    cache = tmp_path / "cache"
    with pytest.raises(NeuronvizError) as err:
        extract_task(str(tiny_bert), task, cache=cache)
    text = str(err.value)
    assert message in text, text
    assert "Traceback" not in text
    if line is not None:
        assert f":{line}" in text, text  # file:line
    assert ActivationCache(cache).entries() == []
    assert not list((cache / "activations").rglob("layer_*.npy")) if cache.exists() else True


@pytest.mark.parametrize(
    ("case", "transform"),
    [
        ("BOM", lambda b: b"\xef\xbb\xbf" + b),
        ("Windows line endings", lambda b: b.replace(b"\n", b"\r\n")),
        ("tabs between tokens", lambda b: b.replace(b" ", b"\t")),
    ],
)
def test_formats_the_reader_allows_just_work(case, transform, tiny_bert, tmp_path):
    task = _parallel(tmp_path, transform(TEN), transform(TEN_LABELS))
    result = extract_task(str(tiny_bert), task, cache=tmp_path / "cache")
    train = result.entries["train"]
    assert train.manifest.n_words > 0
    assert all("\r" not in w and "\ufeff" not in w for s in train.tokens() for w in s)


@pytest.mark.slow
def test_a_one_megabyte_line_is_one_sentence(tiny_bert, tmp_path):
    words = b" ".join([b"word"] * 200_000) + b"\n"  # 1 MB on one line
    labels = b" ".join([b"NN"] * 200_000) + b"\n"
    task = _parallel(tmp_path, words + TEN * 3, labels + TEN_LABELS * 3)
    result = extract_task(str(tiny_bert), task, cache=tmp_path / "cache")
    n_words = sum(e.manifest.n_words for e in result.entries.values())
    assert n_words == 200_000 + 90  # every word of the long line has its vector


# Malformed on purpose: a well-formed CoNLL-2000 corpus with one line broken in a random way.
_word = st.text(alphabet=string.ascii_letters + "éü.,'", min_size=1, max_size=6)
_tag = st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=3)
_sentences = st.lists(
    st.lists(st.tuples(_word, _tag, _tag), min_size=1, max_size=5), min_size=1, max_size=4
)
_breakage = st.sampled_from(["drop a column", "add a column", "invalid UTF-8", "NUL byte"])


@settings(max_examples=60, deadline=None)
@given(_sentences, _breakage, st.data())
def test_one_broken_line_is_named_by_the_error(tmp_path_factory, sents, breakage, data):
    lines = []
    for s in sents:
        lines += [" ".join(row) for row in s] + [""]
    token_lines = [i for i, line in enumerate(lines) if line]
    target = data.draw(st.sampled_from(token_lines))
    raw = [line.encode() for line in lines]
    if breakage == "drop a column":
        raw[target] = b" ".join(raw[target].split()[:2])
    elif breakage == "add a column":
        raw[target] += b" EXTRA"
    elif breakage == "invalid UTF-8":
        raw[target] += b"\xff"
    else:
        raw[target] = b"\x00" + raw[target]
    path = tmp_path_factory.mktemp("broken") / "train.txt"
    path.write_bytes(b"\n".join(raw) + b"\n")
    with pytest.raises(DataError) as err:
        read_conll2000(path)
    if breakage != "NUL byte":  # a binary file is refused as a whole
        assert f"train.txt:{target + 1}:" in str(err.value)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_is_refused_at_once(tmp_path, tiny_bert, kind):
    """A named pipe would wait for a writer forever and /dev/zero never ends: both are refused
    before a byte is read, saying what the file is."""
    path = tmp_path / "train.txt"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    what = "FIFO" if kind == "fifo" else "character device"
    with pytest.raises(DataError, match=f"is a {what}.*not a regular file"):
        read_conll2000(path)
    with pytest.raises(DataError, match="not a regular file"):
        extract_task(str(tiny_bert), f"upos:{path}", cache=tmp_path / "cache")


@pytest.mark.parametrize("ids", [("1", "1"), ("2", "1"), ("0", "1"), ("1", "3")])
def test_conllu_word_ids_that_do_not_run_1_2_3_are_refused(tmp_path, ids):
    from neuronviz.corpora.readers import read_conllu

    good = "1\tA\ta\tDET\tDT\t_\t2\tdet\t_\t_\n2\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_\n\n"
    bad = "".join(
        f"{i}\t{w}\t{w}\tX\tX\t_\t0\tdep\t_\t_\n" for i, w in zip(ids, ("big", "dog"), strict=True)
    )
    (tmp_path / "c.conllu").write_text(good + "# sent_id = 2\n" + bad + "\n")
    with pytest.raises(DataError, match=f"word ids run {' '.join(ids)}") as caught:
        read_conllu(tmp_path / "c.conllu")
    assert caught.value.line == 5


@pytest.mark.parametrize("bom", [True, False])
def test_utf16_text_is_named_with_the_conversion_to_make(tmp_path, bom):
    from neuronviz.corpora.readers import read_text_lines

    text = "the cat sat\n" * 20
    path = tmp_path / "s.txt"
    path.write_bytes(text.encode("utf-16") if bom else text.encode("utf-16-le"))
    with pytest.raises(DataError, match=r"looks like UTF-16 text.*iconv -f utf-16"):
        read_text_lines(path)


def test_a_socket_is_named_as_a_socket(tmp_path):
    import socket

    from neuronviz.corpora.readers import read_text_lines

    path = tmp_path / "corpus.conllu"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(DataError, match="is a socket, not a regular file"):
            read_text_lines(path)


def test_a_binary_file_is_refused_from_its_first_bytes(tmp_path, monkeypatch):
    """Looked at before it is read whole (a 2 GiB file of NULs was read in full first)."""
    from neuronviz.corpora import readers

    path = tmp_path / "big.txt"
    with path.open("wb") as fh:
        fh.truncate(1 << 30)  # sparse: costs no disk
    sizes = []
    real = readers.read_regular
    monkeypatch.setattr(
        readers,
        "read_regular",
        lambda p, limit, head=None: sizes.append(head) or real(p, limit, head),
    )
    with pytest.raises(DataError, match="binary"):
        readers.read_text_lines(path)
    assert sizes == [readers._BINARY_SNIFF]


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\x0c"])
def test_a_separator_that_is_easy_to_miss_is_named(tmp_path, separator):
    from neuronviz.corpora.readers import read_parallel

    (tmp_path / "s.txt").write_text(f"the cat{separator}x sat\nthe dog sat\n", encoding="utf-8")
    (tmp_path / "l.txt").write_text("DT NN VB\nDT NN VB\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"easy to miss: U\\+{ord(separator):04X}") as err:
        read_parallel(tmp_path / "s.txt", tmp_path / "l.txt")
    assert err.value.line == 1


def test_a_newline_in_a_file_name_cannot_forge_a_line(tmp_path):
    path = tmp_path / "evil\nINFO: all good.conllu"
    path.write_bytes(b"\x00\x01" * 10)
    from neuronviz.corpora.readers import read_text_lines

    with pytest.raises(DataError) as err:
        read_text_lines(path)
    assert "\n" not in str(err.value) and "evil\\nINFO" in str(err.value)
