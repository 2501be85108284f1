"""The docs cannot drift from the code: every attribute is documented, examples are embedded."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider.bridge.schema import Block
from provider.photon.provider import PhotonProvider

TOP = Path(__file__).resolve().parents[1]
DOCS = TOP / "docs"
RESOURCES = sorted(PhotonProvider.resources.items())


def attribute_names(block: Block) -> list[str]:
    names = [a.name for a in block.attributes]
    for attr in block.attributes:
        if attr.nested is not None:
            names += attribute_names(Block(attributes=attr.nested.attributes))
    for nested in block.blocks:
        names += [nested.name, *attribute_names(nested.block)]
    return names


def page(kind: str, type_name: str) -> str:
    return (DOCS / kind / f"{type_name.removeprefix('photon_')}.md").read_text()


@pytest.mark.parametrize(("type_name", "resource"), RESOURCES)
def test_resource_page_documents_every_attribute(type_name: str, resource: type) -> None:
    text = page("resources", type_name)
    assert text.startswith(f'---\npage_title: "{type_name} Resource - photon"')
    missing = [n for n in attribute_names(resource.schema.block) if f"- `{n}` (" not in text]
    assert not missing, f"undocumented attributes of {type_name}: {missing}"


@pytest.mark.parametrize(("type_name", "resource"), RESOURCES)
def test_resource_page_embeds_its_examples(type_name: str, resource: type) -> None:
    text = page("resources", type_name)
    examples = TOP / "examples" / "resources" / type_name
    assert (examples / "resource.tf").read_text().strip() in text
    assert (examples / "import.sh").read_text().strip() in text


# (registry folder, page title's kind, example file) of each kind besides resources
_KINDS = {
    "data-sources": ("Data Source", "data-source.tf"),
    "ephemeral-resources": ("Ephemeral Resource", "ephemeral-resource.tf"),
}
OTHERS = [
    ("data-sources", name, kind) for name, kind in sorted(PhotonProvider.data_sources.items())
] + [
    ("ephemeral-resources", name, kind)
    for name, kind in sorted(PhotonProvider.ephemeral_resources.items())
]


@pytest.mark.parametrize(("folder", "type_name", "served"), OTHERS)
def test_data_source_and_ephemeral_pages_document_every_attribute_and_embed_their_example(
    folder: str, type_name: str, served: type
) -> None:
    title, example_file = _KINDS[folder]
    text = page(folder, type_name)
    assert text.startswith(f'---\npage_title: "{type_name} {title} - photon"')
    missing = [n for n in attribute_names(served.schema.block) if f"`{n}` (" not in text]
    assert not missing, f"undocumented attributes of {type_name}: {missing}"
    example = TOP / "examples" / folder / type_name / example_file
    assert example.read_text().strip() in text


SERVED = [
    ("resources", name, kind) for name, kind in sorted(PhotonProvider.resources.items())
] + OTHERS


@pytest.mark.parametrize(("folder", "type_name", "served"), SERVED)
def test_every_default_is_documented_as_the_schema_states_it(
    folder: str, type_name: str, served: type
) -> None:
    """The schema states a default once, in the description Terraform shows; the page must
    say the same."""
    lines = page(folder, type_name).splitlines()
    for attr in served.schema.block.attributes:
        if attr.default is None:
            continue
        stated = attr.documentation.removeprefix(attr.description).strip()
        (line,) = [line for line in lines if line.startswith(f"- `{attr.name}` (")]
        assert line.endswith(stated), f"{type_name}.{attr.name}: the page should say {stated}"


def test_provider_page_documents_every_setting() -> None:
    text = (DOCS / "index.md").read_text()
    missing = [n for n in attribute_names(PhotonProvider.schema.block) if f"- `{n}` (" not in text]
    assert not missing, f"undocumented provider settings: {missing}"
    assert (TOP / "examples" / "provider" / "provider.tf").read_text().strip() in text
    from provider.photon.config import ENVIRONMENT

    assert all(f"`{variable}`" in text for variable in ENVIRONMENT)


def test_every_doc_page_belongs_to_something_served() -> None:
    served = {n.removeprefix("photon_") for n in PhotonProvider.resources}
    assert {p.stem for p in (DOCS / "resources").glob("*.md")} == served
    data = {n.removeprefix("photon_") for n in PhotonProvider.data_sources}
    assert {p.stem for p in (DOCS / "data-sources").glob("*.md")} == data
    ephemeral = {n.removeprefix("photon_") for n in PhotonProvider.ephemeral_resources}
    assert {p.stem for p in (DOCS / "ephemeral-resources").glob("*.md")} == ephemeral


@pytest.mark.parametrize("module", ["tenant", "k8s-cluster"])
def test_module_readme_lists_every_input_and_output(module: str) -> None:
    import re

    folder = TOP / "modules" / module
    readme = (folder / "README.md").read_text()
    for kind, source in (("variable", "variables.tf"), ("output", "outputs.tf")):
        names = re.findall(rf'^{kind} "([^"]+)"', (folder / source).read_text(), re.MULTILINE)
        assert names
        missing = [n for n in names if f"| `{n}` |" not in readme]
        assert not missing, f"{module} README misses {kind}s {missing}"
