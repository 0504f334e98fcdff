{{/* Common labels of every object of the release. */}}
{{- define "suido.labels" -}}
app.kubernetes.io/name: suido
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels that select the operator's pods. */}}
{{- define "suido.selector" -}}
app.kubernetes.io/name: suido
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
