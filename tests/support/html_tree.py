"""A page's HTML as a tree, for the pages' tests (the standard library's parser: no browser, no extra
package): find elements by id, tag, class or attribute, read their text as a reader sees it.

    page = parse(response.text)
    page.by_id("fill-command").text()
    [a.attrs["href"] for a in page.find_all("a", class_="seller-link")]
    page.all_attributes()          # every (tag, name, value): for "no on* handler, no style attribute"
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["Element", "parse"]

#: Elements that never have content (no end tag).
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    children: list[Element | str] = field(default_factory=list)
    parent: Element | None = field(default=None, repr=False)

    def iter(self) -> Iterator[Element]:
        yield self
        for child in self.children:
            if isinstance(child, Element):
                yield from child.iter()

    def text(self) -> str:
        """The text inside, whitespace collapsed (what a reader sees, entities decoded)."""
        parts: list[str] = []

        def walk(node: Element) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                elif child.tag not in ("script", "style"):
                    walk(child)

        walk(self)
        return " ".join("".join(parts).split())

    def find_all(self, tag: str | None = None, *, class_: str | None = None, **attrs: str) -> list[Element]:
        """Elements below (and including) this one with ``tag``, the class ``class_`` and ``attrs``
        (``data_state="X"`` for ``data-state``)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        out = []
        for element in self.iter():
            if tag is not None and element.tag != tag:
                continue
            if class_ is not None and class_ not in (element.attrs.get("class") or "").split():
                continue
            if any(element.attrs.get(k) != v for k, v in wanted.items()):
                continue
            out.append(element)
        return out

    def find(self, tag: str | None = None, *, class_: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, class_=class_, **attrs)
        assert found, f"no <{tag or '*'}> with class {class_!r} and {attrs} in the page"
        return found[0]

    def by_id(self, element_id: str) -> Element:
        found = [e for e in self.iter() if e.attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]

    def has_id(self, element_id: str) -> bool:
        return any(e.attrs.get("id") == element_id for e in self.iter())

    def all_attributes(self) -> list[tuple[str, str, str | None]]:
        return [(e.tag, name, value) for e in self.iter() for name, value in e.attrs.items()]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), parent=self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, dict(attrs), parent=self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
