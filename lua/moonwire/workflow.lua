-- Workflow documents, format 1: checks decoded JSON against the catalog of
-- node types and turns it into a graph (start node, next node per port),
-- and writes the canonical export. Field checks are moonwire.schema's;
-- walking the graph at run time is the C walker's.
-- SPDX-License-Identifier: MIT

local json = require("moonwire.json")
local schema = require("moonwire.schema")

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local pcall, tonumber, error, next = pcall, tonumber, error, next
local concat, sort, min = table.concat, table.sort, math.min
local format, rep = string.format, string.rep
local null = json.null
local is_object, is_array = schema.is_object, schema.is_array
local show, join = schema.show, schema.join
local got, sentence = schema.got, schema.sentence

local M = {}

M.FORMAT = 1

-- Every message a workflow check can produce, by stable code. Config
-- problems carry schema's codes (see schema.messages).
local MSG = {
  not_json = "The workflow is not valid JSON: %s",
  not_object = "%s must be a JSON object; got %s.",
  not_array = "%s must be a JSON array; got %s.",
  not_string = "%s must be a string; got %s.",
  no_format = 'The workflow has no "format"; add "format": 1.',
  bad_format = "Format %s is not supported: this Moonwire reads format 1.",
  unknown_key = "%s is not a known key of %s.%s",
  no_nodes_key = 'The workflow has no "nodes"; add an array of nodes.',
  no_nodes = "The workflow has no nodes; add at least one.",
  no_id = 'The node has no "id"; give it a unique id of letters, digits,'
    .. " _ or -.",
  bad_id = "Node id %s may use only letters, digits, _ and -.",
  dup_id = "Node id %s is already used by the node at %s; ids must be"
    .. " unique.",
  no_type = 'Node %s has no "type"; give one of: %s.',
  unknown_type = "Node %s has type %s, which is not a known node type.%s"
    .. " Known types: %s.",
  node_crash = "Node %s could not be checked: its type %s failed in %s()"
    .. " with: %s",
  bad_ports = "Node %s could not be wired: ports() of type %s returned %s"
    .. " instead of a list of port names.",
  invalid = "%s: %s",
  no_end = 'The connection has no "%s"; name the node it %s.',
  no_port = 'The connection has no "port"; name the port of %s that it'
    .. " leaves by.%s",
  no_such_node = "The connection %s node %s, which does not exist.%s",
  no_such_port = "Node %s (%s) has no port %s.%s Its ports are: %s.",
  port_twice = "Port %s of node %s is already wired at %s; a port can be"
    .. " wired only once.",
  no_start = "The workflow has no start node: every node has an incoming"
    .. " connection. Exactly one node must have none; execution begins"
    .. " there.",
  many_starts = "The workflow has %d start nodes (%s): nodes with no"
    .. " incoming connection. Exactly one is allowed; connect the others"
    .. " or remove them.",
  cycle = "Connections form a cycle: %s.%s Workflows may not loop; remove"
    .. " one of these connections.",
  unreachable = "Node %s cannot be reached from %s; connect it or remove"
    .. " it.",
}
M.messages = MSG

local TOP_KEYS = {
  "format", "name", "description", "nodes", "connections", "editor",
}
local NODE_KEYS = {"id", "type", "label", "config"}
local CONN_KEYS = {"from", "port", "to"}
local ID_PATTERN = "^[A-Za-z0-9_-]+$"

local function add(st, code, path, ...)
  st.errors[#st.errors + 1] = {
    path = path, code = code, message = format(MSG[code], ...),
  }
  return st.errors[#st.errors]
end

-- Long lists of names are cut: a message stays a sentence.
local MAX_NAMES = 10

local function quoted_list(list)
  local out = {}
  for i = 1, min(#list, MAX_NAMES) do out[i] = show(list[i]) end
  if #list > MAX_NAMES then
    out[#out + 1] = format("and %d more", #list - MAX_NAMES)
  end
  return concat(out, ", ")
end

-- Reports keys of obj outside `known`, in sorted order.
local function check_keys(st, obj, known, path, what)
  local set, extra = {}, {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(obj) do
    if not set[k] then extra[#extra + 1] = tostring(k) end
  end
  sort(extra)
  for _, k in ipairs(extra) do
    local hint = schema.suggest(k, known)
    hint = hint and format(' Did you mean "%s"?', hint)
      or " Known keys: " .. concat(known, ", ") .. "."
    add(st, "unknown_key", join(path, k), show(k), what, hint)
  end
end

-- An optional string; null counts as absent.
local function check_string(st, v, path, label)
  if v ~= nil and v ~= null and type(v) ~= "string" then
    add(st, "not_string", path, label, got(v))
  end
end

-- Top level ---------------------------------------------------------------

local function check_top(st, doc)
  check_keys(st, doc, TOP_KEYS, "$", "a workflow")
  if doc.format == nil then
    add(st, "no_format", "$.format")
  elseif doc.format ~= M.FORMAT then
    add(st, "bad_format", "$.format", show(doc.format))
  end
  check_string(st, doc.name, "$.name", "name")
  check_string(st, doc.description, "$.description", "description")
end

-- Nodes ----------------------------------------------------------------

local function node_name(rec)
  return rec.id and show(rec.id) or "at " .. rec.path
end

-- Registers the node's id; the first node to use an id keeps it.
local function check_id(st, rec, id)
  local path = rec.path .. ".id"
  if id == nil or id == null then return add(st, "no_id", path) end
  if type(id) ~= "string" then
    return add(st, "not_string", path, "id", got(id))
  end
  if not id:match(ID_PATTERN) then add(st, "bad_id", path, show(id)) end

  local first = st.by_id[id]
  if first then return add(st, "dup_id", path, show(id), first.path) end
  st.by_id[id] = rec
  rec.id = id
end

local function check_type(st, rec, ty)
  local path = rec.path .. ".type"
  if ty == nil or ty == null then
    return add(st, "no_type", path, node_name(rec), concat(st.types, ", "))
  end
  if type(ty) ~= "string" then
    return add(st, "not_string", path, "type", got(ty))
  end
  local mod = st.catalog[ty]
  if not mod then
    local hint = schema.suggest(ty, st.types)
    hint = hint and format(' Did you mean "%s"?', hint) or ""
    return add(st, "unknown_type", path, node_name(rec), show(ty), hint,
      concat(st.types, ", "))
  end
  rec.type, rec.module = ty, mod
end

local function node_error(st, code, path, rec, ...)
  local e = add(st, code, path, ...)
  e.node = rec.id
  return e
end

-- Calls a node type's own function; a failure is reported, not raised,
-- since user modules may be wrong. Returns ok and the first result.
local function call_module(st, rec, fname, ...)
  local ok, res = pcall(rec.module[fname], ...)
  if not ok then
    node_error(st, "node_crash", rec.path, rec, node_name(rec),
      show(rec.type), fname, tostring(res))
  end
  return ok, res
end

-- A validate() path is relative to the config: "routes[1].port".
local function under(base, rel)
  if type(rel) ~= "string" or rel == "" then return base end
  if rel:sub(1, 1) == "[" then return base .. rel end
  return base .. "." .. rel
end

-- Runs the type's own checks; each problem becomes a sentence that
-- starts with the field it is about, like the schema's own messages.
-- dropped: for a partial config (check_config), the fields left out of
-- it; a crash on such a config, or a problem with those fields, says
-- nothing new.
local function run_validate(st, rec, config, dropped)
  if type(rec.module.validate) ~= "function" then return end

  local problems
  if dropped then
    local ok, res = pcall(rec.module.validate, config)
    if not ok then return end
    problems = res
  else
    problems = select(2, call_module(st, rec, "validate", config))
  end
  for _, p in ipairs(type(problems) == "table" and problems or {}) do
    local rel, msg = nil, p
    if type(p) == "table" then rel, msg = p.path, p.message end
    local field = type(rel) == "string" and rel:match("^[^.%[]+") or ""
    if not (dropped and dropped[field]) then
      local e = node_error(st, "invalid", under(rec.path .. ".config", rel),
        rec, under("config", rel), sentence(msg))
      if type(p) == "table" and type(p.code) == "string" then e.code = p.code end
    end
  end
end

-- A type without ports() has next and error, as the loader assumes.
local function compute_ports(st, rec, config)
  if rec.module.ports == nil then
    rec.ports = {"next", "error"}
    return
  end
  local called, ports = call_module(st, rec, "ports", config)
  if not called then return end

  local ok = type(ports) == "table"
  for _, p in ipairs(ok and ports or {}) do ok = ok and type(p) == "string" end
  if not ok then
    return node_error(st, "bad_ports", rec.path, rec, node_name(rec),
      show(rec.type), got(ports))
  end
  rec.ports = ports
end

-- Checks the config against the type's schema, then the type's own
-- validate(); ports are computed only from a config the schema accepts.
local function check_config(st, rec, config)
  local path = rec.path .. ".config"
  if not rec.module then
    if config ~= nil and not is_object(config) then
      add(st, "not_object", path, "config", got(config))
    end
    return
  end

  local ok, norm, errs = pcall(schema.check, rec.module.schema or {},
    config, path, st.opts)
  if not ok then
    return node_error(st, "node_crash", rec.path, rec, node_name(rec),
      show(rec.type), "schema.check", tostring(norm))
  end
  for _, e in ipairs(errs) do
    e.node = rec.id
    st.errors[#st.errors + 1] = e
  end
  if #errs > 0 then
    -- Every problem in one answer: the type's own checks also run on the
    -- config without the fields the schema refused, when the rest passes.
    if not is_object(config) then return end
    -- (A required field left out is no new problem.)
    local rest, prefix, dropped = {}, path .. ".", {}
    local function key_of(p)
      return type(p) == "string" and p:sub(1, #prefix) == prefix
        and p:sub(#prefix + 1):match("^[^.%[]+")
    end
    for k, v in pairs(config) do rest[k] = v end
    for _, e in ipairs(errs) do
      local key = key_of(e.path)
      if key then rest[key], dropped[key] = nil, true end
    end
    local rok, rnorm, rerrs = pcall(schema.check, rec.module.schema or {},
      rest, path, st.opts)
    if not rok then return end
    for _, e in ipairs(rerrs) do
      if not dropped[key_of(e.path) or ""] then return end
    end
    run_validate(st, rec, rnorm or rest, dropped)
    return
  end
  rec.config = norm
  run_validate(st, rec, norm)
  compute_ports(st, rec, norm)
end

local function check_node(st, raw, i)
  local rec = {index = i, path = format("$.nodes[%d]", i - 1)}
  if not is_object(raw) then
    return add(st, "not_object", rec.path, "Each node", got(raw))
  end

  check_keys(st, raw, NODE_KEYS, rec.path, "a node")
  check_id(st, rec, raw.id)
  check_type(st, rec, raw.type)
  check_string(st, raw.label, rec.path .. ".label", "label")
  if type(raw.label) == "string" then rec.label = raw.label end
  check_config(st, rec, raw.config)
  st.nodes[#st.nodes + 1] = rec
end

local function check_nodes(st, nodes)
  if nodes == nil then return add(st, "no_nodes_key", "$.nodes") end
  if not is_array(nodes) then
    return add(st, "not_array", "$.nodes", "nodes", got(nodes))
  end
  if #nodes == 0 then return add(st, "no_nodes", "$.nodes") end
  for i = 1, #nodes do check_node(st, nodes[i], i) end
end

-- Connections ------------------------------------------------------------

local function resolve_end(st, c, key, path)
  local id = c[key]
  local p = path .. "." .. key
  if id == nil or id == null then
    add(st, "no_end", p, key, key == "from" and "leaves" or "goes to")
    return nil
  end
  if type(id) ~= "string" then
    add(st, "not_string", p, key, got(id))
    return nil
  end
  local rec = st.by_id[id]
  if not rec then
    local ids = {}
    for _, r in ipairs(st.nodes) do ids[#ids + 1] = r.id end
    local hint = schema.suggest(id, ids)
    hint = hint and format(' Did you mean "%s"?', hint) or ""
    add(st, "no_such_node", p, key == "from" and "leaves" or "goes to",
      show(id), hint)
  end
  return rec
end

-- Checks the port against the node's ports and wires it once.
local function check_port(st, from, port, path)
  local p = path .. ".port"
  local ports = from and from.ports
  if port == nil or port == null then
    local list = ports and " Its ports are: " .. concat(ports, ", ") .. "."
    local name = from and "node " .. show(from.id) or "its node"
    return add(st, "no_port", p, name, list or "")
  end
  if type(port) ~= "string" then
    return add(st, "not_string", p, "port", got(port))
  end
  if not from then return end

  local found = not ports
  for _, name in ipairs(ports or {}) do found = found or name == port end
  if not found then
    local hint = schema.suggest(port, ports)
    hint = hint and format(' Did you mean "%s"?', hint) or ""
    add(st, "no_such_port", p, show(from.id), from.type, show(port), hint,
      concat(ports, ", "))
  end
  local wired = st.wired[from.id] or {}
  st.wired[from.id] = wired
  if wired[port] then
    return add(st, "port_twice", p, show(port), show(from.id), wired[port])
  end
  wired[port] = path
  return true
end

local function check_connection(st, c, i)
  local path = format("$.connections[%d]", i - 1)
  if not is_object(c) then
    return add(st, "not_object", path, "Each connection", got(c))
  end

  check_keys(st, c, CONN_KEYS, path, "a connection")
  local from = resolve_end(st, c, "from", path)
  local ok = check_port(st, from, c.port, path)
  local to = resolve_end(st, c, "to", path)
  -- Even a badly ported connection counts for the graph checks, so one
  -- mistake does not also show up as an unreachable node.
  if from and to then
    st.edges[#st.edges + 1] = {
      from = from.id, to = to.id, port = c.port, path = path,
      wired = ok == true,
    }
  end
end

local function check_connections(st, conns)
  if conns == nil then return end
  if not is_array(conns) then
    return add(st, "not_array", "$.connections", "connections", got(conns))
  end
  for i = 1, #conns do check_connection(st, conns[i], i) end
end

-- Graph ----------------------------------------------------------------

-- The registered nodes in document order, with out and in edge lists.
local function graph_of(st)
  local ids, out, inc = {}, {}, {}
  for _, rec in ipairs(st.nodes) do
    if rec.id and st.by_id[rec.id] == rec then
      ids[#ids + 1] = rec.id
      out[rec.id], inc[rec.id] = {}, {}
    end
  end
  for _, e in ipairs(st.edges) do
    local o, n = out[e.from], inc[e.to]
    o[#o + 1], n[#n + 1] = e, e
  end
  return ids, out, inc
end

-- Iterative depth-first walk from `roots` along `edges[id]`, using `ends`
-- ("to" or "from") to step; calls done(id) when a node is finished.
local function walk(roots, edges, ends, seen, done)
  for _, root in ipairs(roots) do
    if not seen[root] then
      seen[root] = true
      local stack = {{root, 1}}
      while #stack > 0 do
        local top = stack[#stack]
        local e = edges[top[1]][top[2]]
        if e then
          top[2] = top[2] + 1
          local nxt = e[ends]
          if not seen[nxt] then
            seen[nxt] = true
            stack[#stack + 1] = {nxt, 1}
          end
        else
          stack[#stack] = nil
          if done then done(top[1]) end
        end
      end
    end
  end
end

-- Strongly connected components (Kosaraju), each a set of ids.
local function components(ids, out, inc)
  local order, comp = {}, {}
  walk(ids, out, "to", {}, function(id) order[#order + 1] = id end)
  local seen = {}
  for i = #order, 1, -1 do
    local root = order[i]
    if not seen[root] then
      local set = {}
      walk({root}, inc, "from", seen, function(id) set[id] = true end)
      comp[#comp + 1] = set
    end
  end
  return comp
end

-- The ids from first to last along breadth-first parent edges.
local function trail(parent, first, last)
  local back, cur = {}, last
  while cur ~= first do
    back[#back + 1] = cur
    cur = parent[cur].from
  end
  local ids = {first}
  for j = #back, 1, -1 do ids[#ids + 1] = back[j] end
  return ids
end

-- A shortest cycle through `first` inside the component `set`: its ids
-- in order and the connection that closes it; nil when there is none.
local function cycle_through(first, set, out)
  local parent, queue, head = {[first] = false}, {first}, 1
  while queue[head] do
    local id = queue[head]
    head = head + 1
    for _, e in ipairs(out[id]) do
      if e.to == first then return trail(parent, first, id), e end
      if set[e.to] and parent[e.to] == nil then
        parent[e.to] = e
        queue[#queue + 1] = e.to
      end
    end
  end
end

-- Names the nodes of a cycle, and any others in the same component.
local function cycle_text(ids, cycle, set)
  local shown, on_cycle, rest = {}, {}, {}
  for i, id in ipairs(cycle) do
    on_cycle[id] = true
    if i <= MAX_NAMES then shown[i] = show(id) end
  end
  if #cycle > MAX_NAMES then
    shown[#shown + 1] = format("(%d more)", #cycle - MAX_NAMES)
  end
  shown[#shown + 1] = show(cycle[1])
  for _, id in ipairs(ids) do
    if set[id] and not on_cycle[id] then rest[#rest + 1] = id end
  end
  local more = #rest == 0 and ""
    or " The loop also runs through " .. quoted_list(rest) .. "."
  return concat(shown, " -> "), more
end

-- One error per strongly connected component that holds a cycle, at the
-- connection that closes it; the cycle starts at its earliest node.
local function check_cycles(st, ids, out, inc)
  local pos = {}
  for i, id in ipairs(ids) do pos[id] = i end
  for _, set in ipairs(components(ids, out, inc)) do
    local first
    for id in pairs(set) do
      if not first or pos[id] < pos[first] then first = id end
    end
    local cycle, closing = cycle_through(first, set, out)
    if cycle then
      add(st, "cycle", closing.path, cycle_text(ids, cycle, set))
    end
  end
end

local function check_graph(st)
  local ids, out, inc = graph_of(st)
  if #ids == 0 then return end

  local starts = {}
  for _, id in ipairs(ids) do
    if #inc[id] == 0 then starts[#starts + 1] = id end
  end
  if #starts == 0 then
    add(st, "no_start", "$.nodes")
  elseif #starts > 1 then
    add(st, "many_starts", "$.nodes", #starts, quoted_list(starts))
  else
    st.start = starts[1]
  end
  check_cycles(st, ids, out, inc)
  if #starts == 0 then return end

  local seen = {}
  walk(starts, out, "to", seen)
  local from = #starts == 1 and "the start node " .. show(starts[1])
    or "any start node"
  for _, id in ipairs(ids) do
    if not seen[id] then
      add(st, "unreachable", st.by_id[id].path, show(id), from)
    end
  end
end

-- Errors in document order -------------------------------------------------

-- Where key stands in list; 0 for no key, after the list when unknown.
local function rank_of(list, key)
  if key == nil then return 0 end
  for i, k in ipairs(list) do
    if k == key then return i end
  end
  return #list + 1
end

-- Errors sort by top-level key, then array index, then key inside the
-- node or connection; ties keep the order the checks found them in,
-- which for a config is schema order.
local function sort_errors(errors)
  local keys = {}
  for i, e in ipairs(errors) do
    local p = e.path
    local top = p:match("^%$%.([%w_]+)") or (p ~= "$" and "" or nil)
    local idx, rest = p:match("^%$%.[%w_]+%[(%d+)%](.*)$")
    local sub = rest and rest ~= "" and (rest:match("^%.([%w_]+)") or "")
    local inner = top == "connections" and CONN_KEYS or NODE_KEYS
    keys[e] = {
      rank_of(TOP_KEYS, top), tonumber(idx) or -1, rank_of(inner, sub), i,
    }
  end
  sort(errors, function(a, b)
    local ka, kb = keys[a], keys[b]
    for j = 1, 4 do
      if ka[j] ~= kb[j] then return ka[j] < kb[j] end
    end
    return false
  end)
end

-- Result ------------------------------------------------------------------

local function build(doc, st)
  local wf = {
    format = doc.format, doc = doc, start = st.start,
    name = doc.name ~= null and doc.name or nil,
    description = doc.description ~= null and doc.description or nil,
    nodes = {}, by_id = {}, next = {}, ports = {},
    -- whether only built-in node types run: no node code of the node
    -- path can change a value in place (values may then share parts)
    builtin_only = true,
  }
  for _, rec in ipairs(st.nodes) do
    if not rec.module or rec.module.sandboxed then wf.builtin_only = false end
    local node = {
      id = rec.id, type = rec.type, label = rec.label, config = rec.config,
      module = rec.module, index = rec.index, path = rec.path,
      ports = rec.ports,
    }
    wf.nodes[#wf.nodes + 1] = node
    wf.by_id[rec.id] = node
    wf.next[rec.id] = {}
    wf.ports[rec.id] = rec.ports
  end
  for _, e in ipairs(st.edges) do wf.next[e.from][e.port] = e.to end
  return wf
end

---@class mw.Node
---@field id string
---@field type string
---@field label? string
---@field config table normalized: defaults applied
---@field module table the node type's module
---@field index integer 1-based position in doc.nodes
---@field path string its JSON path, "$.nodes[index-1]"

---@class mw.Workflow
---@field format integer
---@field name? string
---@field description? string
---@field doc table the document as given
---@field nodes mw.Node[] in document order
---@field by_id table<string, mw.Node>
---@field start string id of the start node
---@field next table<string, table<string, string>> id -> port -> next id
---@field ports table<string, string[]> id -> the node's ports

---Checks a decoded workflow document against the catalog of node types
---and builds its graph. Every problem is reported, in document order.
---@param doc any the document, as moonwire.json decodes it
---@param catalog table<string, table> node type name -> module
---@param opts? {allow_missing_secrets?: boolean}
---@return mw.Workflow|nil wf
---@return mw.Error[]|nil errors when wf is nil
function M.load(doc, catalog, opts)
  local st = {
    errors = {}, catalog = catalog or {}, opts = opts or {}, types = {},
    nodes = {}, by_id = {}, edges = {}, wired = {},
  }
  for name in pairs(st.catalog) do st.types[#st.types + 1] = name end
  sort(st.types)
  if not is_object(doc) then
    add(st, "not_object", "$", "A workflow", got(doc))
    return nil, st.errors
  end

  check_top(st, doc)
  check_nodes(st, doc.nodes)
  check_connections(st, doc.connections)
  check_graph(st)
  if #st.errors > 0 then
    sort_errors(st.errors)
    return nil, st.errors
  end
  return build(doc, st)
end

---Decodes and loads a workflow; a JSON syntax error is one error at `$`
---whose message gives the line and column.
---@param text string
---@param catalog table<string, table>
---@param opts? {allow_missing_secrets?: boolean}
---@return mw.Workflow|nil wf
---@return mw.Error[]|nil errors
function M.parse(text, catalog, opts)
  if type(text) ~= "string" then
    return nil, {{path = "$", code = "not_json",
      message = format(MSG.not_json, "got " .. got(text) .. ".")}}
  end
  local ok, doc, err = pcall(json.decode, text)
  if not ok then doc, err = nil, doc end
  if doc == nil then
    -- The decoder's message names the line and column.
    return nil, {{path = "$", code = "not_json",
      message = format(MSG.not_json, sentence(err))}}
  end
  return M.load(doc, catalog, opts)
end

-- Export ------------------------------------------------------------------

-- A shape gives an object's key order (listed keys first, the rest
-- sorted) and the shapes of its children: fields[key], or each for the
-- elements of an array (a function of the element when it varies).

local function config_shape(fields)
  local shape = {order = {}, fields = {}}
  for i, spec in ipairs(fields) do
    shape.order[i] = spec.name
    local items = spec.items
    if spec.kind == "array" and type(items) == "table" and not items.kind
    then
      shape.fields[spec.name] = {each = config_shape(items)}
    end
  end
  return shape
end

local function node_shape(catalog)
  return function(node)
    local mod = is_object(node) and catalog[node.type]
    local fields = mod and type(mod.schema) == "table" and mod.schema or {}
    return {order = NODE_KEYS, fields = {config = config_shape(fields)}}
  end
end

local function ordered_keys(obj, order)
  local keys, listed = {}, {}
  for _, k in ipairs(order or {}) do
    if obj[k] ~= nil then keys[#keys + 1] = k end
    listed[k] = true
  end
  local rest = {}
  for k in pairs(obj) do
    if not listed[k] then rest[#rest + 1] = tostring(k) end
  end
  sort(rest)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return keys
end

local function leaf(v)
  local s, err = json.encode(v)
  if not s then error("workflow.export: " .. tostring(err), 0) end
  return s
end

local emit

local function emit_array(buf, v, depth, shape)
  local each = shape and shape.each
  local pad = rep("  ", depth + 1)
  buf[#buf + 1] = "[\n"
  for i = 1, #v do
    local sub = type(each) == "function" and each(v[i]) or each
    buf[#buf + 1] = pad
    emit(buf, v[i], depth + 1, sub)
    buf[#buf + 1] = i < #v and ",\n" or "\n"
  end
  buf[#buf + 1] = rep("  ", depth) .. "]"
end

local function emit_object(buf, v, depth, shape)
  local keys = ordered_keys(v, shape and shape.order)
  local pad = rep("  ", depth + 1)
  buf[#buf + 1] = "{\n"
  for i, k in ipairs(keys) do
    buf[#buf + 1] = pad .. leaf(k) .. ": "
    emit(buf, v[k], depth + 1, shape and shape.fields and shape.fields[k])
    buf[#buf + 1] = i < #keys and ",\n" or "\n"
  end
  buf[#buf + 1] = rep("  ", depth) .. "}"
end

function emit(buf, v, depth, shape)
  if type(v) ~= "table" or json.is_bignum(v) then
    buf[#buf + 1] = leaf(v)
  elseif is_array(v) then
    if #v == 0 then
      buf[#buf + 1] = "[]"
    else
      emit_array(buf, v, depth, shape)
    end
  elseif next(v) == nil then
    buf[#buf + 1] = "{}"
  else
    emit_object(buf, v, depth, shape)
  end
end

-- Without its schema (the node type is gone) a config's secrets are
-- known only by their names: anything named like a credential is dropped.
local function strip_by_name(config)
  local is_secret_name = require("moonwire.secrets").is_secret_name
  local out = {}
  for k, v in pairs(config) do
    if not is_secret_name(k) then out[k] = v end
  end
  return out
end

-- A shallow copy of doc whose node configs have no secret fields.
local function without_secrets(doc, catalog)
  local out = {}
  for k, v in pairs(doc) do out[k] = v end
  if not is_array(doc.nodes) then return out end

  out.nodes = json.array({})
  for i, node in ipairs(doc.nodes) do
    local mod = is_object(node) and catalog[node.type]
    if is_object(node) and is_object(node.config) then
      local copy = {}
      for k, v in pairs(node) do copy[k] = v end
      if mod and type(mod.schema) == "table" then
        copy.config = schema.strip_secrets(mod.schema, node.config)
      else
        copy.config = strip_by_name(node.config)
      end
      node = copy
    end
    out.nodes[i] = node
  end
  return out
end

---The canonical text of a workflow document: pretty JSON with 2-space
---indent, keys in a fixed order (see docs/workflow-format.md) and secret
---fields removed, ending in a newline. export(parse(export(doc))) is
---byte-identical to export(doc).
---@param doc table a decoded workflow document (wf.doc for a loaded one)
---@param catalog table<string, table> node type name -> module
---@return string
function M.export(doc, catalog)
  catalog = catalog or {}
  local shape = {
    order = TOP_KEYS,
    fields = {
      nodes = {each = node_shape(catalog)},
      connections = {each = {order = CONN_KEYS}},
    },
  }
  local buf = {}
  if is_object(doc) then doc = without_secrets(doc, catalog) end
  emit(buf, doc, 0, shape)
  buf[#buf + 1] = "\n"
  return concat(buf)
end

return M
