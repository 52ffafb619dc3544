/* The return page after paying: asks for the order until the payment is
 * confirmed, then says so. Without script the page refreshes itself
 * (<noscript> meta refresh) and shows the same. */
(function () {
  "use strict";
  var box = document.getElementById("pay-return");
  if (!box || box.getAttribute("data-state") !== "confirming") return;
  var id = box.getAttribute("data-order-id");
  if (!id || !window.fetch) return;
  var tries = 0, max = 300, delay = 1500;

  function show(title, text, cls) {
    var h = document.getElementById("pay-return-title");
    var p = document.getElementById("pay-return-status");
    if (h) h.textContent = title;
    if (p) {
      p.textContent = text;
      p.className = "notice " + cls;
    }
    box.setAttribute("data-state", cls === "notice-ok" ? "paid" : "refund");
  }

  function poll() {
    tries++;
    fetch("/api/orders/" + encodeURIComponent(id), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store"
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        var o = j && j.success ? j.order : null;
        if (o && o.pay_status === 2) {
          if (o.order_status === 4)
            show("Payment received after cancellation",
                 "Order " + id + " was cancelled before your payment arrived. " +
                 "The payment is recorded and will be refunded.", "notice-warn");
          else
            show("Paid", "Order " + id + " is paid (" + o.pay_amount + "). Thank you!",
                 "notice-ok");
          return;
        }
        if (tries < max) setTimeout(poll, delay);
      })
      .catch(function () { if (tries < max) setTimeout(poll, delay * 2); });
  }
  setTimeout(poll, 500);
})();
