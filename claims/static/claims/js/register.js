/* The registration page is checked by the server, which shows every problem at once. Once a
 * field in error is changed into something the page can see is acceptable (filled in, an
 * e-mail address, a name of the allowed form, passwords that match), its message goes: nobody
 * should read an error they have fixed. Rules only the server knows (a taken name, a common
 * password) are checked again on the next submit. */
(function () {
  "use strict";
  var form = document.querySelector("form.form");
  var summary = document.getElementById("form-errors");
  if (!form || !summary) return;
  var USERNAME = /^[\w.@+-]{3,150}$/;

  function acceptable(input) {
    var value = input.value;
    if (!value.trim()) return false;
    if (input.name === "username") return USERNAME.test(value.trim());
    if (input.name === "email") return input.type !== "email" || input.checkValidity();
    if (input.name === "password") return value.length >= 8 && !/^\d+$/.test(value);
    if (input.name === "password_again") return value === form.elements.password.value;
    return input.checkValidity();
  }

  function clear(input) {
    var error = document.getElementById(input.id + "_error");
    if (error) error.remove();
    input.removeAttribute("aria-invalid");
    var described = (input.getAttribute("aria-describedby") || "").split(/\s+/)
      .filter(function (id) { return id && id !== input.id + "_error"; });
    if (described.length) input.setAttribute("aria-describedby", described.join(" "));
    else input.removeAttribute("aria-describedby");
    var field = input.closest(".field");
    if (field) field.classList.remove("field--invalid");
    if (!form.querySelector("[aria-invalid=true]")) summary.hidden = true;
  }

  Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid=true]"), function (input) {
    var rejected = input.value;
    function recheck() {
      if (input.getAttribute("aria-invalid") !== "true") return;
      if (input.value !== rejected && acceptable(input)) clear(input);
    }
    input.addEventListener("input", recheck);
    input.addEventListener("change", recheck);
  });
  // Typing the first password again can fix a mismatch reported on the second.
  if (form.elements.password && form.elements.password_again) {
    form.elements.password.addEventListener("input", function () {
      var again = form.elements.password_again;
      if (again.getAttribute("aria-invalid") === "true" && again.value && acceptable(again)) clear(again);
    });
  }
})();
