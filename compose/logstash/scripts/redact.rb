# Logstash's ruby filter (pipeline/platform.conf): secrets out of every log event before it is
# stored, as the services' own log filter does (service_kit.redaction). The pipeline passes the
# kit's patterns as script_params:
#   shapes      what a secret looks like (a JWT, a reset token, a client secret, a card token):
#               replaced by "[redacted]" in every string, at any depth
#   fields      field names whose value is a secret wherever they appear (compared lower-case)
#   name_parts  names that hold one (reset_token, api_key, old_password), case-insensitive
REDACTED = "[redacted]".freeze

def register(params)
  @shapes = params.fetch("shapes").map { |pattern| Regexp.new(pattern) }
  @fields = params.fetch("fields").map(&:downcase)
  @name_parts = Regexp.new(params.fetch("name_parts"), Regexp::IGNORECASE)
end

def filter(event)
  event.to_hash.each do |name, value|
    next if name.start_with?("@")
    clean = clean_field(name, value)
    event.set("[#{name}]", clean) unless clean == value
  end
  [event]
end

def secret_name?(name)
  @fields.include?(name.downcase) || @name_parts.match?(name)
end

def clean_field(name, value)
  return REDACTED if secret_name?(name) && !(value.nil? || value == "")
  clean(value)
end

def clean(value)
  case value
  when String then @shapes.reduce(value) { |text, shape| text.gsub(shape, REDACTED) }
  when Hash then value.to_h { |name, item| [name, clean_field(name.to_s, item)] }
  when Array then value.map { |item| clean(item) }
  else value
  end
end
