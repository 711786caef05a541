// Render the math of every page with the KaTeX copy under assets/katex (no network needed).
// pymdownx.arithmatex (generic mode) wraps inline math in \( \) and display math in \[ \].
document$.subscribe(() => {
  renderMathInElement(document.body, {
    delimiters: [
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
  });
});
