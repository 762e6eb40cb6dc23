// For Selenium's execute_script (arguments[0] = the app's root element). Returns the offenders:
// a word whose Range has line boxes at more than one height wrapped inside itself; an element
// clipped (scrollWidth > clientWidth) must carry its full value in `title`.
const root = arguments[0];
const offenders = [];
const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  for (const match of node.textContent.matchAll(/\S+/g)) {
    const range = document.createRange();
    range.setStart(node, match.index);
    range.setEnd(node, match.index + match[0].length);
    const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
    if (lines.size > 1) offenders.push(`wraps inside "${match[0]}" in <${node.parentElement.tagName}>`);
  }
}
for (const element of root.querySelectorAll("td, th, button, [data-truncate]")) {
  if (element.scrollWidth > element.clientWidth + 1 && element.title !== element.textContent.trim()) {
    offenders.push(`clipped without a title: "${element.textContent.trim().slice(0, 60)}"`);
  }
}
return offenders;
