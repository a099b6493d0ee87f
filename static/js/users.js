/* TraceTrack user management: small conveniences on top of pages that work without them.
 * - "Generate a password" ticked: the password field is disabled (and so not sent).
 * - The one-time password page: a button copies the password to the clipboard.
 */
(function () {
  "use strict";

  document.querySelectorAll(".password-choice").forEach(function (box) {
    var generate = box.querySelector("input[type=checkbox][name$='generate']");
    var password = box.querySelector("input[type=password][name$='password']");
    if (!generate || !password) { return; }
    function sync() {
      password.disabled = generate.checked;
      if (generate.checked) { password.value = ""; }
    }
    generate.addEventListener("change", function () {
      sync();
      if (!generate.checked) { password.focus(); }
    });
    sync();
  });

  var copyButton = document.getElementById("copy-password");
  if (copyButton && navigator.clipboard) {
    var source = document.getElementById(copyButton.dataset.copyTarget);
    copyButton.classList.remove("d-none");
    copyButton.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        copyButton.textContent = copyButton.dataset.copiedLabel;
      }, function () {
        source.focus();
      });
    });
  }
}());
