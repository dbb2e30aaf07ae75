// reportlib portal: the only script the pages load (the Content-Security-Policy allows no other).
(function () {
  "use strict";

  // On-demand job page: poll the job's status until it is done, then show the files.
  function followJob(section) {
    var url = section.getAttribute("data-status-url");
    var bar = document.getElementById("job-progress");
    var status = document.getElementById("job-status");
    var stage = document.getElementById("job-stage");
    var seconds = document.getElementById("job-seconds");
    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok) { throw new Error(String(response.status)); }
          return response.json();
        })
        .then(function (job) {
          bar.value = job.progress;
          bar.textContent = Math.round(job.progress * 100) + " %";
          status.textContent = job.status;
          status.className = "status status-" + job.status;
          stage.textContent = job.stage;
          seconds.textContent = job.seconds.toFixed(1);
          if (job.status === "done" || job.status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(poll, 300);
          }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    window.setTimeout(poll, 200);
  }

  // Reports form: the discount statuses matter for the discount report only; another partner
  // has other accounts.
  function reportForm(form) {
    var statuses = document.getElementById("statuses");
    function toggle() {
      var chosen = form.querySelector("input[name=report]:checked");
      statuses.hidden = !(chosen && chosen.value === "discounts");
    }
    form.addEventListener("change", function (event) {
      if (event.target.name === "report") { toggle(); }
      if (event.target.id === "partner") {
        var account = document.getElementById("account");
        account.value = "";
        for (var i = account.options.length - 1; i > 0; i--) { account.remove(i); }
      }
    });
    toggle();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var job = document.getElementById("job");
    if (job && (job.getAttribute("data-status") === "queued" || job.getAttribute("data-status") === "running")) {
      followJob(job);
    }
    var form = document.getElementById("report-form");
    if (form) { reportForm(form); }
  });
})();
