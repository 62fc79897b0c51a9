// Bastide's SQL console: highlighting, completion of the permit's tables and columns,
// Ctrl+Enter to run, and cancelling a running query through the hub's API. Written
// for this hub (no third-party code); without it the console is a plain form that
// still works. Nothing here reaches another host: the page's policy allows this hub
// only.
"use strict";

(function () {
  const form = document.getElementById("run");
  const area = document.getElementById("sql");
  if (!form || !area) return;

  const KEYWORDS = [
    "select", "from", "where", "group", "by", "order", "having", "limit", "offset",
    "join", "left", "right", "inner", "outer", "full", "on", "using", "as", "and", "or",
    "not", "in", "is", "null", "between", "like", "ilike", "case", "when", "then",
    "else", "end", "distinct", "count", "sum", "avg", "min", "max", "with", "union",
    "all", "except", "intersect", "asc", "desc", "cast", "extract", "date_trunc",
    "coalesce", "true", "false", "interval", "date", "filter", "over", "partition",
  ];

  // The permit's tables and columns: "table:col1,col2;table2:…".
  const tables = new Map();
  for (const part of (area.dataset.words || "").split(";")) {
    const [table, columns] = part.split(":");
    if (table) tables.set(table, (columns || "").split(",").filter(Boolean));
  }
  const columns = new Set([...tables.values()].flat());

  // Highlighting: a <pre> under the text area, which keeps the caret and the input.
  const holder = area.parentElement;
  const pre = document.createElement("pre");
  pre.className = "highlight";
  pre.setAttribute("aria-hidden", "true");
  const code = document.createElement("code");
  pre.appendChild(code);
  holder.insertBefore(pre, area);
  holder.classList.add("enhanced");

  const TOKEN = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|(\s+)|([\s\S])/g;

  function paint() {
    code.textContent = "";
    const text = area.value;
    let match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(text)) !== null) {
      const [token, comment, string, quoted, number, word] = match;
      let kind = null;
      if (comment) kind = "comment";
      else if (string) kind = "string";
      else if (quoted) kind = "name";
      else if (number) kind = "number";
      else if (word) {
        const lower = word.toLowerCase();
        if (KEYWORDS.includes(lower)) kind = "keyword";
        else if (tables.has(lower)) kind = "table";
        else if (columns.has(lower)) kind = "column";
      }
      if (kind) {
        const span = document.createElement("span");
        span.className = "tok-" + kind;
        span.textContent = token;
        code.appendChild(span);
      } else {
        code.appendChild(document.createTextNode(token));
      }
    }
    // A final line break keeps the last line's height.
    code.appendChild(document.createTextNode("\n"));
    sync();
  }

  function sync() {
    pre.scrollTop = area.scrollTop;
    pre.scrollLeft = area.scrollLeft;
  }

  // Completion: a list under the editor, driven from the keyboard.
  const list = document.createElement("ul");
  list.id = "completions";
  list.className = "completions";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Suggestions");
  list.hidden = true;
  holder.after(list);
  area.setAttribute("aria-autocomplete", "list");
  area.setAttribute("aria-controls", "completions");
  let choices = [];
  let active = -1;

  function wordBefore() {
    const before = area.value.slice(0, area.selectionStart);
    const dotted = /([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z0-9_]*)$/.exec(before);
    if (dotted) return { table: dotted[1].toLowerCase(), prefix: dotted[2] };
    const plain = /([A-Za-z_][A-Za-z0-9_]*)$/.exec(before);
    return { table: null, prefix: plain ? plain[1] : "" };
  }

  function suggest(force) {
    const { table, prefix } = wordBefore();
    const lower = prefix.toLowerCase();
    let pool;
    if (table !== null) {
      // After `name.`: that table's columns, or every column after an alias.
      pool = tables.get(table) || [...columns];
    } else {
      if (!force && lower.length < 1) return close();
      pool = [...tables.keys(), ...columns, ...KEYWORDS];
    }
    choices = [...new Set(pool)].filter((w) => w.startsWith(lower) && w !== lower).slice(0, 12);
    if (choices.length === 0) return close();
    list.textContent = "";
    choices.forEach((word, i) => {
      const item = document.createElement("li");
      item.id = "completion-" + i;
      item.setAttribute("role", "option");
      item.textContent = word;
      item.className = tables.has(word) ? "is-table" : columns.has(word) ? "is-column" : "is-keyword";
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        accept(i);
      });
      list.appendChild(item);
    });
    list.hidden = false;
    area.setAttribute("aria-expanded", "true");
    highlight(0);
  }

  function highlight(i) {
    active = i;
    [...list.children].forEach((item, j) => item.setAttribute("aria-selected", String(j === i)));
    if (i >= 0) area.setAttribute("aria-activedescendant", "completion-" + i);
  }

  function close() {
    list.hidden = true;
    choices = [];
    active = -1;
    area.setAttribute("aria-expanded", "false");
    area.removeAttribute("aria-activedescendant");
  }

  function accept(i) {
    const { prefix } = wordBefore();
    const word = choices[i];
    const start = area.selectionStart - prefix.length;
    area.setRangeText(word, start, area.selectionStart, "end");
    close();
    paint();
    area.focus();
  }

  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      close();
      form.requestSubmit();
      return;
    }
    if (event.key === " " && event.ctrlKey) {
      event.preventDefault();
      suggest(true);
      return;
    }
    if (list.hidden) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight((active + 1) % choices.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight((active - 1 + choices.length) % choices.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      if (active >= 0) {
        event.preventDefault();
        accept(active);
      }
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
  area.addEventListener("input", () => {
    paint();
    const typed = area.value.charAt(area.selectionStart - 1);
    if (/[A-Za-z0-9_.]/.test(typed)) suggest(false);
    else close();
  });
  area.addEventListener("scroll", sync);
  area.addEventListener("blur", () => setTimeout(close, 100));
  paint();

  // Cancelling: the running query is found in the project's history (the API, with
  // this session's cookie) and cancelled with the session's CSRF token.
  const cancel = document.getElementById("cancel");
  const running = document.getElementById("running");
  const project = form.dataset.project;
  const token = form.querySelector("input[name=csrf]");
  let submitted = null;
  form.addEventListener("submit", () => {
    submitted = area.value;
    if (cancel) cancel.hidden = false;
    if (running) running.textContent = document.documentElement.lang === "fr" ? "Requête en cours…" : "Query running…";
  });
  if (cancel) {
    cancel.addEventListener("click", async () => {
      const base = "/api/v1/projects/" + encodeURIComponent(project) + "/queries";
      try {
        const history = await fetch(base + "?limit=20", { credentials: "same-origin" });
        const queries = history.ok ? await history.json() : [];
        // Browsers send line breaks as CRLF; the person's name is in the page's header.
        const normal = (text) => text.replace(/\r\n/g, "\n").trim();
        const who = (document.querySelector("header .who") || {}).textContent || "";
        const mine = queries.find(
          (q) => q.status === "running" && q.user === who.trim() && normal(q.sql) === normal(submitted),
        );
        if (!mine) return;
        await fetch(base + "/" + encodeURIComponent(mine.id), {
          method: "DELETE",
          credentials: "same-origin",
          headers: { "X-CSRF-Token": token ? token.value : "" },
        });
        if (running) running.textContent = document.documentElement.lang === "fr" ? "Annulation demandée." : "Cancellation asked.";
      } catch (_) {
        // The page's answer will say what happened.
      }
    });
  }
})();
