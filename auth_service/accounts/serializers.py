from rest_framework import serializers


class TokenObtainSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, max_length=256)


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)
