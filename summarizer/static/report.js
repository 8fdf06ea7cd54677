/* summarizer report: filters, timeline, actor network and quote navigation.
   Inlined by summarizer/report.py after Apache ECharts; reads the page's JSON data block.
   Every string from the data is untrusted: it reaches the DOM only as text or through esc(). */
(function () {
  "use strict";

  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const COLORS = { meeting: "#2f6fdf", agreement: "#15915a", dispute: "#d9432f" };
  const PARTY_COLORS = {
    person: "#7b5cc4", organization: "#e29a1d", country: "#2a9d9c", group: "#a07862", unknown: "#9aa3ad",
  };
  const VERBS = { meeting: "met", agreement: "signed with", dispute: "in dispute with" };
  const LANES = { meeting: "Meetings", agreement: "Agreements", dispute: "Disputes" };
  const EVENTS = new Map(DATA.events.map((e) => [e.id, e]));
  const state = { kinds: new Set(DATA.kinds), actor: "", from: "", to: "" };

  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  const active = () =>
    state.kinds.size < DATA.kinds.length || Boolean(state.actor || state.from || state.to);

  /* An event or item passes when its kind is on, it involves the actor, and its period
     (its own date, else its article's publication date) overlaps the chosen dates. */
  function matches(o) {
    if (!state.kinds.has(o.kind)) return false;
    if (state.actor && !o.actors.includes(state.actor)) return false;
    if (state.from && !(o.to && o.to >= state.from)) return false;
    if (state.to && !(o.from && o.from <= state.to)) return false;
    return true;
  }

  function eventTip(e) {
    const lines = [
      "<b>" + esc(e.label) + "</b>",
      esc([e.kind, e.date || "undated", e.place].filter(Boolean).join(" · ")),
      esc(e.actors.join(", ")),
    ];
    for (const c of e.conflicts) lines.push('<span style="color:#b26a00">sources differ on ' + esc(c) + "</span>");
    const n = e.sources.length;
    lines.push('<span style="color:#5f6b7a">' + n + " source" + (n === 1 ? "" : "s") + ": " + esc(e.sources.join("; ")) + "</span>");
    return lines.join("<br>");
  }

  const TOOLTIP = {
    confine: true,
    extraCssText: "max-width:360px;white-space:normal;",
    textStyle: { fontSize: 12, color: "#1d2330" },
  };

  /* ---- timeline: one lane per kind, events on a time axis, same-day events stacked ---- */
  const timeline = echarts.init(document.getElementById("timeline"));
  function renderTimeline(events) {
    const dated = events.filter((e) => e.date);
    const undated = events.length - dated.length;
    document.getElementById("undated").textContent = undated ? "; " + undated + " undated not shown" : "";
    const present = DATA.kinds.filter((k) => dated.some((e) => e.kind === k));
    const lanes = present.length ? present : DATA.kinds.filter((k) => state.kinds.has(k));
    /* Events closer than 1/90 of the time span would hide each other: stack them. */
    const times = dated.map((e) => Date.parse(e.from));
    const first = Math.min(...times);
    const bucket = Math.max((Math.max(...times) - first) / 90, 24 * 3600 * 1000);
    const stacked = new Map();
    const series = lanes.map((kind) => ({
      name: kind,
      type: "scatter",
      symbolSize: 15,
      itemStyle: { color: COLORS[kind], borderColor: COLORS[kind], borderWidth: 2.5, opacity: 0.9 },
      emphasis: { scale: 1.5 },
      data: dated
        .filter((e) => e.kind === kind)
        .map((e) => {
          const key = kind + " " + Math.round((Date.parse(e.from) - first) / bucket);
          const n = stacked.get(key) || 0;
          stacked.set(key, n + 1);
          const offset = (n % 2 ? 1 : -1) * Math.ceil(n / 2) * 13;
          return {
            value: [e.from, LANES[kind]],
            event: e.id,
            symbol: e.date.length === 10 ? "circle" : "emptyCircle",
            symbolOffset: [0, offset],
          };
        }),
    }));
    const day = 24 * 3600 * 1000;
    const pad = (v) => Math.max((v.max - v.min) * 0.04, 20 * day);
    timeline.setOption(
      {
        animation: false,
        grid: { left: 96, right: 28, top: 18, bottom: 64 },
        title: dated.length
          ? { show: false }
          : { text: "No dated events match", left: "center", top: "middle", textStyle: { color: "#5f6b7a", fontSize: 14, fontWeight: "normal" } },
        tooltip: Object.assign({ trigger: "item", formatter: (p) => eventTip(EVENTS.get(p.data.event)) }, TOOLTIP),
        xAxis: {
          type: "time",
          min: (v) => v.min - pad(v),
          max: (v) => v.max + pad(v),
          splitLine: { show: true, lineStyle: { color: "#eef1f5" } },
          axisLabel: { color: "#5f6b7a", hideOverlap: true },
        },
        yAxis: {
          type: "category",
          data: lanes.map((k) => LANES[k]),
          inverse: true,
          axisTick: { show: false },
          axisLine: { show: false },
          splitArea: { show: true, areaStyle: { color: ["#fafbfd", "#ffffff"] } },
          axisLabel: { color: "#1d2330", fontWeight: 600 },
        },
        dataZoom: [
          { type: "inside", xAxisIndex: 0, filterMode: "none" },
          { type: "slider", xAxisIndex: 0, filterMode: "none", height: 20, bottom: 14, borderColor: "#dde2ea" },
        ],
        series: series,
      },
      { notMerge: true }
    );
  }
  timeline.on("click", (p) => p.data && focusEvent(p.data.event));

  /* ---- network: actors as nodes, one edge per pair and kind, width by event count ---- */
  const network = echarts.init(document.getElementById("network"));
  function renderNetwork(events) {
    const counts = new Map();
    const links = new Map();
    for (const e of events) {
      for (const a of e.actors) counts.set(a, (counts.get(a) || 0) + 1);
      for (const [a, b] of e.pairs) {
        const key = JSON.stringify([a, b, e.kind]);
        if (!links.has(key)) links.set(key, { source: a, target: b, kind: e.kind, events: [] });
        links.get(key).events.push(e);
      }
    }
    const kinds = DATA.partyKinds;
    // Busiest first: where labels collide, the earlier one is kept. On a narrow screen only
    // the busiest actors are labelled; every other name shows on hover or tap.
    const narrow = network.getWidth() < 560;
    const labelled = narrow ? 6 : Infinity;
    const nodes = Array.from(counts, ([name, n]) => ({
      id: name,
      name: name,
      value: n,
      symbolSize: 10 + 7 * Math.sqrt(n),
      category: kinds.indexOf(DATA.actorKinds[name] || "unknown"),
    }))
      .sort((a, b) => b.value - a.value)
      .map((node, i) => Object.assign(node, {
        label: { show: i < labelled || node.name === state.actor, fontWeight: node.name === state.actor || node.value > 2 ? 600 : 400 },
      }));
    const edges = Array.from(links.values(), (l) => ({
      source: l.source,
      target: l.target,
      value: l.events.length,
      link: l,
      lineStyle: { width: Math.min(1.5 + 2.5 * (l.events.length - 1), 14), color: COLORS[l.kind] },
    }));
    network.setOption(
      {
        animationDurationUpdate: 300,
        title: nodes.length
          ? { show: false }
          : { text: "No actors match", left: "center", top: "middle", textStyle: { color: "#5f6b7a", fontSize: 14, fontWeight: "normal" } },
        tooltip: Object.assign({ trigger: "item", formatter: networkTip }, TOOLTIP),
        legend: {
          bottom: 6,
          itemWidth: 10,
          itemHeight: 10,
          textStyle: { color: "#5f6b7a" },
          data: kinds.filter((k) => nodes.some((n) => kinds[n.category] === k)),
        },
        series: [
          {
            type: "graph",
            layout: "force",
            roam: true,
            draggable: true,
            top: 24,
            bottom: 48,
            left: 24,
            right: narrow ? 90 : 150, // room for the labels, which sit right of their nodes
            categories: kinds.map((k) => ({ name: k, itemStyle: { color: PARTY_COLORS[k] } })),
            data: nodes,
            links: edges,
            autoCurveness: true,
            force: {
              initLayout: "circular",
              repulsion: [150, 400], // busier actors push harder, so hubs get room
              gravity: 0.15,
              edgeLength: [50, 110],
              layoutAnimation: false, // lay out at once, so the result can be fitted
            },
            label: { position: "right", fontSize: 11.5, color: "#1d2330", width: narrow ? 84 : 140, overflow: "truncate" },
            labelLayout: { hideOverlap: true },
            lineStyle: { opacity: 0.7 },
            itemStyle: { borderColor: "#fff", borderWidth: 1.5 },
            emphasis: { focus: "adjacency", label: { show: true }, lineStyle: { opacity: 1 } },
          },
        ],
      },
      { notMerge: true }
    );
    fitNetwork(nodes);
  }
  /* ECharts cannot fit a force layout to its box, but it fits fixed positions: read where the
     layout put each node and pin it there ("none" layout), so the whole network is in view.
     The layout comes out round; widening it to the box's shape gives the labels room. */
  function fitNetwork(nodes) {
    const series = network.getModel().getSeriesByIndex(0);
    if (!series || nodes.length < 2) return;
    const data = series.getData();
    const at = new Map();
    data.each((i) => at.set(data.getId(i), data.getItemLayout(i)));
    const xs = nodes.map((n) => at.get(n.id)[0]);
    const ys = nodes.map((n) => at.get(n.id)[1]);
    const width = Math.max(...xs) - Math.min(...xs) || 1;
    const height = Math.max(...ys) - Math.min(...ys) || 1;
    const box = (network.getWidth() - (network.getWidth() < 560 ? 114 : 174)) / (network.getHeight() - 72); // less the margins
    const widen = Math.min(Math.max(box / (width / height), 1), 2);
    network.setOption({
      series: [
        {
          layout: "none",
          preserveAspect: true,
          data: nodes.map((n, i) => Object.assign({ x: xs[i] * widen, y: ys[i] }, n)),
        },
      ],
    });
  }
  function networkTip(p) {
    if (p.dataType === "edge") {
      const l = p.data.link;
      const rows = l.events.slice(0, 8).map((e) => "• " + esc(e.label) + (e.date ? " (" + esc(e.date) + ")" : ""));
      if (l.events.length > 8) rows.push("… and " + (l.events.length - 8) + " more");
      const head = "<b>" + esc(l.source) + "</b> " + VERBS[l.kind] + " <b>" + esc(l.target) + "</b>";
      return head + " · " + l.events.length + "×<br>" + rows.join("<br>");
    }
    const kind = DATA.actorKinds[p.data.name] || "unknown";
    return "<b>" + esc(p.data.name) + "</b><br>" + esc(kind) + " · " + p.data.value + " event" + (p.data.value === 1 ? "" : "s");
  }
  network.on("click", (p) => {
    if (p.dataType !== "node") return;
    const select = document.getElementById("actor");
    select.value = state.actor === p.data.name ? "" : p.data.name;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });

  /* ---- articles: hide what the filters exclude; dim the highlights of hidden items ---- */
  const itemCards = Array.from(document.querySelectorAll(".item[data-item]"));
  const marks = Array.from(document.querySelectorAll("mark.hl"));
  function renderArticles() {
    const visible = new Set();
    for (const card of itemCards) {
      const item = DATA.items[card.dataset.item];
      const shown = matches(item);
      card.hidden = !shown;
      if (shown) visible.add(card.dataset.item);
    }
    for (const article of document.querySelectorAll(".article")) {
      article.hidden = active() && !article.querySelector(".item[data-item]:not([hidden])");
    }
    for (const mark of marks) {
      const on = mark.dataset.q.split(" ").some((q) => visible.has(DATA.quotes[q]));
      mark.classList.toggle("dim", !on);
    }
    document.getElementById("shown").textContent =
      "showing " + visible.size + " of " + itemCards.length + " item" + (itemCards.length === 1 ? "" : "s");
  }

  function flash(el) {
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation when clicked twice
    el.classList.add("flash");
  }
  /* Scroll to an item's quotes in the text and flash them; flash the item when it has none. */
  function focusItem(id) {
    const quotes = DATA.items[id].quotes;
    const hits = marks.filter((m) => m.dataset.q.split(" ").some((q) => quotes.includes(q)));
    const card = document.getElementById(id);
    if (hits.length) {
      hits[0].scrollIntoView({ block: "center", behavior: "smooth" });
      hits.forEach(flash);
    } else {
      card.scrollIntoView({ block: "center", behavior: "smooth" });
    }
    flash(card);
  }
  function focusEvent(id) {
    const event = EVENTS.get(id);
    const item = event && event.items.find((i) => !document.getElementById(i).hidden);
    if (item) focusItem(item);
  }
  for (const card of itemCards) {
    card.addEventListener("click", () => focusItem(card.dataset.item));
    card.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        focusItem(card.dataset.item);
      }
    });
  }
  for (const mark of marks) {
    mark.addEventListener("click", () => {
      const ids = new Set(mark.dataset.q.split(" ").map((q) => DATA.quotes[q]));
      const cards = itemCards.filter((c) => ids.has(c.dataset.item) && !c.hidden);
      if (cards.length) cards[0].scrollIntoView({ block: "nearest", behavior: "smooth" });
      cards.forEach(flash);
    });
  }

  /* ---- filters ---- */
  const form = document.getElementById("filters");
  function readFilters() {
    state.kinds = new Set(Array.from(form.querySelectorAll('input[name="kind"]:checked'), (i) => i.value));
    state.actor = document.getElementById("actor").value;
    state.from = document.getElementById("date-from").value;
    state.to = document.getElementById("date-to").value;
    const events = DATA.events.filter(matches);
    renderTimeline(events);
    renderNetwork(events);
    renderArticles();
  }
  form.addEventListener("change", readFilters);
  form.addEventListener("reset", () => setTimeout(readFilters, 0));
  form.addEventListener("submit", (e) => e.preventDefault());
  window.addEventListener("resize", () => {
    timeline.resize();
    network.resize();
  });
  readFilters();
})();
