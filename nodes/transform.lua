-- transform: renders a template and stores the result as a variable. In
-- json mode (the default) the result is a JSON value, not text.
-- SPDX-License-Identifier: MIT

local M = {
  type = "transform",
  title = "Transform",
  description = "Builds a new value from the share and earlier outputs with "
    .. "a template, and stores it under an output variable.",
}

M.schema = {
  { name = "template", kind = "template", required = true, mode_field = "mode",
    title = "Template",
    description = "A Handlebars-style template. In json mode, write the JSON "
      .. "you want; values are escaped and typed for you." },
  { name = "mode", kind = "enum", enum = { "json", "text" }, default = "json",
    title = "Output", description = "json: the result is a JSON value; "
      .. "text: the result is a string." },
  { name = "missing", kind = "enum", enum = { "null", "empty", "error" },
    default = "null", title = "Missing values",
    description = "What a reference to a missing variable yields." },
  { name = "output", kind = "variable", required = true, title = "Output variable",
    description = "The variable later nodes read, e.g. createPayload." },
}

function M.ports()
  return { "next", "error" }
end

function M.outputs(config)
  return { config.output }
end

-- Render options by output mode and missing-value mode, made once.
local OPTS = {}
for _, mode in ipairs({ "json", "text" }) do
  OPTS[mode] = {}
  for _, missing in ipairs({ "null", "empty", "error" }) do
    OPTS[mode][missing] = { mode = mode, missing = missing,
      field = "config.template" }
  end
end

function M.run(ctx, config)
  local value, err
  local mode = config.mode == "text" and "text" or "json"
  local opts = OPTS[mode][config.missing or "null"]
    or { mode = mode, missing = config.missing, field = "config.template" }
  if mode == "text" then
    value, err = ctx:render(config.template, opts)
  else
    value, err = ctx:render_value(config.template, opts)
  end
  if value == nil then return nil, err end
  ctx:set(config.output, value)
  return "next"
end

return M
