// For Selenium's execute_script (arguments[0] = the app's root element; arguments[1] = true when
// no table may scroll sideways at this width). Returns the offenders, measured on the rendered
// page: a word whose Range has line boxes at more than one height wrapped inside itself; an
// element clipped (scrollWidth > clientWidth) must carry its full value in `title`; a date is
// never clipped at all; and, when asked, a table wider than the box it scrolls in.
const [root, fitWidth] = arguments;
const offenders = [];
const clipped = (element) => element.scrollWidth > element.clientWidth + 1;
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
  if (clipped(element) && element.title !== element.textContent.trim()) {
    offenders.push(`clipped without a title: "${element.textContent.trim().slice(0, 60)}"`);
  }
}
for (const date of root.querySelectorAll("[data-when] .absolute")) {
  if (clipped(date)) offenders.push(`date clipped: "${date.textContent}"`);
}
for (const table of fitWidth ? root.querySelectorAll("table") : []) {
  const box = table.parentElement;
  if (clipped(box)) offenders.push(`#${table.id} scrolls sideways: ${box.scrollWidth} px in ${box.clientWidth} px`);
}
return offenders;
