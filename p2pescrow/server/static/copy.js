// The offer page's copy button: copies the text of the element its data-copy names (the
// `p2pescrow offer fill ID` command) to the clipboard and says so. The page works without it: the
// button stays hidden and the command can be selected by hand. No inline script anywhere (CSP).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var status = document.getElementById("copy-status");
    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }
    function selectSource() {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.textContent;
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () {
          say("Copied.");
        }, function () {
          selectSource();
          say("Could not copy: the command is selected, copy it with Ctrl+C.");
        });
      } else {
        selectSource();
        var copied = false;
        try {
          copied = document.execCommand("copy");
        } catch (e) {
          copied = false;
        }
        say(copied ? "Copied." : "The command is selected: copy it with Ctrl+C.");
      }
    });
  });
});
