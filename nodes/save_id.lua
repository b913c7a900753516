-- save_id: links the external record's ID to the incident, so later
-- shares of it see the ID as `externalId` and update the same record.
-- SPDX-License-Identifier: MIT

local M = {
  type = "save_id",
  title = "Save ID",
  description = "Saves the external record's ID (read from a variable) and "
    .. "links it to the incident for later shares.",
}

M.schema = {
  { name = "external_id", kind = "path", required = true, title = "External ID",
    description = "The variable holding the ID, e.g. createResponse.id." },
  { name = "unlock", kind = "boolean", default = true, title = "Unlock shares",
    description = "Let later shares of the incident, held until the ID is "
      .. "saved, proceed." },
}

function M.ports()
  return { "next", "error" }
end

function M.outputs()
  return { "externalId" }
end

function M.run(ctx, config)
  local value = ctx:get(config.external_id)
  if not ctx.live then
    -- A dry run sent nothing, so there is no real ID to link.
    ctx:set("externalId", value or "dry-run-id")
    return "next"
  end
  local ok, err = ctx:save_id(value, { unlock = config.unlock })
  if not ok then
    return nil, "cannot save the external ID from " .. config.external_id
      .. ": " .. err
  end
  ctx:set("externalId", value)
  return "next"
end

return M
