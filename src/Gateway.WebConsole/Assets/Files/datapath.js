// Follows the data path's counters on /console/datapath: one server-sent event a second from the element's
// data-stream URL, each value written into the cell whose data-k names it. The only script of the console; the page
// works without it (a <noscript> refresh every 2 s).
(function () {
  "use strict";
  var table = document.getElementById("counters");
  if (!table || !window.EventSource) {
    return;
  }
  var at = document.getElementById("counters-at");
  var format = new Intl.NumberFormat("en-US");
  var cells = {};
  document.querySelectorAll("[data-k]").forEach(function (cell) {
    cells[cell.getAttribute("data-k")] = cell;
  });
  function set(key, value) {
    var cell = cells[key];
    if (cell) {
      var text = format.format(value);
      if (cell.textContent !== text) {
        cell.textContent = text;
        cell.classList.remove("changed");
        void cell.offsetWidth; // restart the highlight
        cell.classList.add("changed");
      }
    }
  }
  var source = new EventSource(table.getAttribute("data-stream"));
  source.addEventListener("counters", function (event) {
    var data = JSON.parse(event.data);
    if (data.Rows.map(function (r) { return r.Key; }).join(" ") !== table.getAttribute("data-rows") ||
        data.Reasons.join(" ") !== table.getAttribute("data-reasons")) {
      window.location.reload(); // ports or reasons changed: render the page anew
      return;
    }
    data.Rows.forEach(function (row) {
      set(row.Key + ":received", row.Received);
      set(row.Key + ":receivedBytes", row.ReceivedBytes);
      set(row.Key + ":forwarded", row.Forwarded);
      set(row.Key + ":forwardedBytes", row.ForwardedBytes);
      set(row.Key + ":dropped", row.Dropped);
      data.Reasons.forEach(function (reason, i) {
        set(row.Key + ":drop:" + reason, row.Drops[i]);
      });
      row.Details.forEach(function (detail) {
        set(row.Key + ":detail:" + detail.Key, detail.Value);
      });
    });
    if (at) {
      at.textContent = data.At;
    }
    table.setAttribute("data-updated", data.At);
  });
  source.addEventListener("signed-out", function () {
    source.close();
    window.location.assign("/console/signin?expired=1");
  });
})();
